package main

import (
	"fmt"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/runlog"
)

// line is one net's curve in a panel: colour by depth, solid for the ResNet, dashed for the plain net.
type line struct {
	name  string
	depth int // index of the depth, for the colour
	plain bool
	xys   plotter.XYs
}

func plotAll(s settings, results []netResult) error {
	depthIndex := map[int]int{}
	for i, d := range s.Depths {
		depthIndex[d] = i
	}
	// series collects one net's values of a kind, in depth order.
	series := func(r netResult, phase, mode, kind string, sorted bool) line {
		l := line{name: r.Model, depth: depthIndex[r.Depth], plain: r.Plain}
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
			l.xys = append(l.xys, plotter.XY{X: float64(i + 1), Y: v})
		}
		return l
	}
	collect := func(phase, mode, kind string, sorted bool) []line {
		var ls []line
		for _, r := range results {
			ls = append(ls, series(r, phase, mode, kind, sorted))
		}
		return ls
	}
	trained := fmt.Sprintf("after %d steps", s.Steps)
	figs := []struct {
		file, title string
		panels      []*plot.Plot
	}{
		{"input-grad.png", fmt.Sprintf("‖∂L/∂x‖ at each block input, one fixed batch of %d (%s)", s.Batch, s.Data), []*plot.Plot{
			panel("at initialisation", "block (from the input)", "‖∂L/∂x‖ (log scale)", true, collect("init", "train", train.InputGrad, false)),
			panel(trained, "block (from the input)", "‖∂L/∂x‖ (log scale)", true, collect("trained", "train", train.InputGrad, false)),
		}},
		{"weight-grad.png", fmt.Sprintf("‖∂L/∂W‖ of each convolution, one fixed batch of %d (%s)", s.Batch, s.Data), []*plot.Plot{
			panel("at initialisation", "conv layer (from the input)", "‖∂L/∂W‖ (log scale)", true, collect("init", "train", train.WeightGrad, false)),
			panel(trained, "conv layer (from the input)", "‖∂L/∂W‖ (log scale)", true, collect("trained", "train", train.WeightGrad, false)),
		}},
		{"response-std.png", fmt.Sprintf("std of each 3×3 layer's response after BN, before ReLU/addition (eval mode, %s)", trained), []*plot.Plot{
			panel("layer index (original order)", "3×3 layer (from the input)", "std (log scale)", true, collect("trained", "eval", train.ResponseStd, false)),
			panel("sorted by magnitude", "layer (sorted)", "std (log scale)", true, collect("trained", "eval", train.ResponseStd, true)),
		}},
	}
	for _, f := range figs {
		if err := tile(filepath.Join(s.Out, f.file), f.title, f.panels); err != nil {
			return fmt.Errorf("%s: %w", f.file, err)
		}
	}
	return nil
}

func panel(title, xlabel, ylabel string, logY bool, lines []line) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: 1}
	}
	for _, l := range lines {
		xys := l.xys
		if logY { // a log axis cannot show zeros
			xys = nil
			for _, xy := range l.xys {
				if xy.Y > 0 {
					xys = append(xys, xy)
				}
			}
		}
		if len(xys) == 0 {
			continue
		}
		ln, err := plotter.NewLine(xys)
		if err != nil {
			continue
		}
		ln.Color = plotutil.Color(l.depth)
		ln.Width = vg.Points(1.8)
		if l.plain {
			ln.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(ln)
		p.Legend.Add(l.name, ln)
	}
	return p
}

// tile draws the panels side by side under a title into a PNG at path.
func tile(path, title string, panels []*plot.Plot) error {
	png, err := runlog.PanelsPNG(title, panels, vg.Length(len(panels))*5.5*vg.Inch, 4.5*vg.Inch)
	if err != nil {
		return err
	}
	return runlog.WriteFileAtomic(path, png)
}
