package main

import (
	"fmt"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot/vg"

	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/runlog"
)

func plotAll(s settings, results []netResult) error {
	depthIndex := map[int]int{}
	for i, d := range s.Depths {
		depthIndex[d] = i
	}
	// series collects one net's values of a kind, in depth order: coloured by depth, solid for
	// the ResNet, dashed for the plain net.
	series := func(r netResult, phase, mode, kind string, sorted bool) runlog.Line {
		l := runlog.Line{Name: r.Model, Color: depthIndex[r.Depth], Dashed: r.Plain}
		var vals []float64
		for _, x := range r.Rows {
			if x.Phase == phase && x.Mode == mode && x.Kind == kind {
				vals = append(vals, x.Value)
			}
		}
		if sorted {
			sort.Sort(sort.Reverse(sort.Float64Slice(vals)))
		}
		for i, v := range vals {
			l.X, l.Y = append(l.X, float64(i+1)), append(l.Y, v)
		}
		return l
	}
	collect := func(phase, mode, kind string, sorted bool) []runlog.Line {
		var ls []runlog.Line
		for _, r := range results {
			ls = append(ls, series(r, phase, mode, kind, sorted))
		}
		return ls
	}
	trained := fmt.Sprintf("after %d steps", s.Steps)
	figs := []struct {
		file, title string
		panels      []runlog.Panel
	}{
		{"input-grad.png", fmt.Sprintf("‖∂L/∂x‖ at each block input, one fixed batch of %d (%s)", s.Batch, s.Data), []runlog.Panel{
			{Title: "at initialisation", XLabel: "block (from the input)", YLabel: "‖∂L/∂x‖ (log scale)", LogY: true, Lines: collect("init", "train", train.InputGrad, false)},
			{Title: trained, XLabel: "block (from the input)", YLabel: "‖∂L/∂x‖ (log scale)", LogY: true, Lines: collect("trained", "train", train.InputGrad, false)},
		}},
		{"weight-grad.png", fmt.Sprintf("‖∂L/∂W‖ of each convolution, one fixed batch of %d (%s)", s.Batch, s.Data), []runlog.Panel{
			{Title: "at initialisation", XLabel: "conv layer (from the input)", YLabel: "‖∂L/∂W‖ (log scale)", LogY: true, Lines: collect("init", "train", train.WeightGrad, false)},
			{Title: trained, XLabel: "conv layer (from the input)", YLabel: "‖∂L/∂W‖ (log scale)", LogY: true, Lines: collect("trained", "train", train.WeightGrad, false)},
		}},
		{"response-std.png", fmt.Sprintf("std of each 3×3 layer's response after BN, before ReLU/addition (eval mode, %s)", trained), []runlog.Panel{
			{Title: "layer index (original order)", XLabel: "3×3 layer (from the input)", YLabel: "std (log scale)", LogY: true, Lines: collect("trained", "eval", train.ResponseStd, false)},
			{Title: "sorted by magnitude", XLabel: "layer (sorted)", YLabel: "std (log scale)", LogY: true, Lines: collect("trained", "eval", train.ResponseStd, true)},
		}},
	}
	for _, f := range figs {
		if err := tile(filepath.Join(s.Out, f.file), f.title, f.panels); err != nil {
			return fmt.Errorf("%s: %w", f.file, err)
		}
	}
	return nil
}

// tile draws the panels side by side under a title into a PNG at path.
func tile(path, title string, panels []runlog.Panel) error {
	png, err := runlog.LinesPNG(title, panels, vg.Length(len(panels))*5.5*vg.Inch, 4.5*vg.Inch)
	if err != nil {
		return err
	}
	return runlog.WriteFileAtomic(path, png)
}
