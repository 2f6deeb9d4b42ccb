package main

import (
	"fmt"
	"image/color"
	"math"

	"github.com/resnet-go/resnet/train/runlog"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Size and line styles of the figure. Training error is the bold solid line and test error the
// thin dashed one, so the two are told apart without colour; colour tells the depth.
const (
	figWidth   = 11 * vg.Inch
	figHeight  = 4.5 * vg.Inch
	trainWidth = 2.5 // points
	testWidth  = 1.0
)

var testDashes = []vg.Length{vg.Points(5), vg.Points(3)}

// plotDegradation draws the paper's Fig. 6 for this run as a PNG: the plain nets on the left,
// the ResNets on the right, error (%) against epoch, one colour per depth, on the same y-range so
// the two panels compare at a glance. The range is that of the second half of the run, where the
// nets separate (the paper plots 0–20%): the first epochs' higher errors leave the top.
func plotDegradation(s summary) ([]byte, error) {
	top := errorAxisTop(s)
	low := legendLow(s, top)
	var panels []*plot.Plot
	for _, plain := range []bool{true, false} {
		p := plot.New()
		p.Title.Text = "ResNet"
		if plain {
			p.Title.Text = "plain"
		}
		p.X.Label.Text = "epoch"
		p.Y.Label.Text = "error (%)"
		p.X.Min, p.X.Max = 1, math.Max(2, float64(s.Settings.Epochs))
		p.X.Tick.Marker = epochTicks{}
		// Error curves fall from the top left and end low, so the top right is the emptiest
		// corner, unless a net stays high (a deep plain net stuck near chance): then the
		// bottom left, below where every curve starts.
		p.Legend.Top, p.Legend.Left = !low, low
		p.Legend.XOffs, p.Legend.YOffs = -vg.Points(6), -vg.Points(6)
		if low {
			p.Legend.XOffs, p.Legend.YOffs = vg.Points(6), vg.Points(6)
		}
		p.Add(plotter.NewGrid())
		for i, d := range s.Settings.Depths {
			var n *netResult
			for j := range s.Nets {
				if s.Nets[j].Depth == d && s.Nets[j].Plain == plain {
					n = &s.Nets[j]
				}
			}
			if n == nil {
				continue
			}
			c := plotutil.Color(i)
			train, err := curve(n, c, func(k int) float64 { return n.records[k].TrainErr })
			if err != nil {
				return nil, err
			}
			train.Width = vg.Points(trainWidth)
			test, err := curve(n, c, func(k int) float64 { return n.records[k].TestErr })
			if err != nil {
				return nil, err
			}
			test.Width, test.Dashes = vg.Points(testWidth), testDashes
			p.Add(test, train) // training error on top: it is the point of the figure
			p.Legend.Add(n.Name, train)
		}
		// After the lines, which widen the range to their data: higher points leave the top.
		p.Y.Min, p.Y.Max = 0, top
		// Two grey entries explain the line styles, as the paper's caption does.
		grey := color.Gray{Y: 90}
		p.Legend.Add("training error", &plotter.Line{LineStyle: draw.LineStyle{Color: grey, Width: vg.Points(trainWidth)}})
		p.Legend.Add("test error", &plotter.Line{LineStyle: draw.LineStyle{Color: grey, Width: vg.Points(testWidth), Dashes: testDashes}})
		panels = append(panels, p)
	}

	title := fmt.Sprintf("%s, %d training images: plain nets vs ResNets (%s)", s.Settings.Data,
		s.Settings.TrainExamples, plural(s.Settings.Epochs, "epoch"))
	png, err := runlog.PanelsPNG(title, panels, figWidth, figHeight)
	if err != nil {
		return nil, fmt.Errorf("drawing %s: %w", figureFile, err)
	}
	return png, nil
}

// errorAxisTop is the top of the error axis in %: half again the highest error of the run's
// second half, rounded up to a multiple of 5 (at least 5, at most 100).
func errorAxisTop(s summary) float64 {
	top := 0.0
	for _, n := range s.Nets {
		for _, r := range n.records {
			if 2*r.Epoch <= s.Settings.Epochs {
				continue
			}
			for _, v := range []float64{r.TrainErr, r.TestErr} {
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					top = math.Max(top, 100*v)
				}
			}
		}
	}
	return math.Min(100, math.Max(5, 5*math.Ceil(1.5*top/5)))
}

// legendLow reports whether some net ends in the top third of an error axis of height top.
func legendLow(s summary, top float64) bool {
	for _, n := range s.Nets {
		if k := len(n.records); k > 0 && 100*n.records[k-1].TrainErr > 2*top/3 {
			return true
		}
	}
	return false
}

// curve is one error series of n in percent against the epoch, skipping values that were not
// measured (NaN) or blew up.
func curve(n *netResult, c color.Color, get func(k int) float64) (*plotter.Line, error) {
	var xys plotter.XYs
	for k, r := range n.records {
		if v := 100 * get(k); !math.IsNaN(v) && !math.IsInf(v, 0) {
			xys = append(xys, plotter.XY{X: float64(r.Epoch), Y: v})
		}
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil, fmt.Errorf("plotting %s: %w", n.Name, err)
	}
	l.Color = c
	return l, nil
}

// epochTicks labels whole epochs only, at a step of 1, 2 or 5 times a power of ten that gives
// at most ten labels (an epoch 1.5 does not exist), with unlabelled minor ticks at the other
// whole epochs while there are few enough of them to read.
type epochTicks struct{}

func (epochTicks) Ticks(lo, hi float64) []plot.Tick {
	step := 1.0
	for mult := 0; (hi-lo)/step > 10; mult++ {
		step = []float64{2, 5, 10}[mult%3] * math.Pow(10, float64(mult/3))
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo); v <= hi; v++ {
		if math.Mod(v, step) == 0 {
			ticks = append(ticks, plot.Tick{Value: v, Label: fmt.Sprintf("%g", v)})
		} else if step <= 5 {
			ticks = append(ticks, plot.Tick{Value: v})
		}
	}
	return ticks
}
