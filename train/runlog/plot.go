package runlog

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Size of the curves figure.
const (
	plotWidth  = 10 * vg.Inch
	plotHeight = 4 * vg.Inch
	plotDPI    = 100
)

// series is one curve: a name and how to read its value from a record.
type series struct {
	name string
	get  func(Record) float64
}

func lossSeries() []series {
	return []series{
		{"train", func(r Record) float64 { return r.TrainLoss }},
		{"val", func(r Record) float64 { return r.ValLoss }},
		{"test", func(r Record) float64 { return r.TestLoss }},
	}
}

func errSeries() []series {
	return []series{
		{"train", func(r Record) float64 { return r.TrainErr }},
		{"val", func(r Record) float64 { return r.ValErr }},
		{"test", func(r Record) float64 { return r.TestErr }},
	}
}

// PlotCurves draws the curves of records as a PNG at path (written atomically, so a viewer never
// sees half an image): on the left the cross-entropy loss and on the right the error in %, each for
// train, val and test against the epoch. A series that is NaN in every record is left out, and the
// NaN (or infinite) points of the others are skipped, so a test set evaluated every few epochs still
// draws a line.
func PlotCurves(records []Record, path, title string) error {
	loss, _, err := panel("cross-entropy loss", 1, lossSeries(), records)
	if err != nil {
		return fmt.Errorf("runlog: plotting %s: %w", path, err)
	}
	errp, _, err := panel("error (%)", 100, errSeries(), records)
	if err != nil {
		return fmt.Errorf("runlog: plotting %s: %w", path, err)
	}

	png, err := PanelsPNG(title, []*plot.Plot{loss, errp}, plotWidth, plotHeight)
	if err != nil {
		return fmt.Errorf("runlog: plotting %s: %w", path, err)
	}
	return WriteFileAtomic(path, png)
}

// PanelsPNG draws panels side by side, aligned, under a title, on a white width×height canvas at
// 100 dpi, and returns the PNG. The training curves and the experiments' figures share it.
// gonum/plot panics on ranges it cannot tick; that comes back as an error, since a figure is
// never worth a crashed run.
func PanelsPNG(title string, panels []*plot.Plot, width, height vg.Length) ([]byte, error) {
	return gridPNG(title, [][]*plot.Plot{panels}, width, height)
}

// gridPNG is PanelsPNG for rows of panels of the same length, aligned; a nil panel leaves its
// place empty.
func gridPNG(title string, rows [][]*plot.Plot, width, height vg.Length) (png []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			png, err = nil, fmt.Errorf("drawing %q: %v", title, r)
		}
	}()
	for _, row := range rows {
		for _, p := range row {
			if p != nil {
				fixRange(&p.Y)
				fixRange(&p.X)
			}
		}
	}
	img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(plotDPI))
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())

	titleStyle := plot.New().Title.TextStyle
	titleStyle.Font.Size = vg.Points(14)
	pad := vg.Points(8)
	top := pad
	if title != "" {
		top += titleStyle.Height(title) + pad
		dc.FillText(titleStyle, vg.Point{X: dc.Center().X, Y: dc.Max.Y - pad}, title)
	}
	tiles := draw.Tiles{Rows: len(rows), Cols: len(rows[0]), PadTop: top, PadBottom: pad, PadLeft: pad, PadRight: pad,
		PadX: vg.Points(24), PadY: vg.Points(12)}
	canvases := plot.Align(rows, tiles, dc)
	for j, row := range rows {
		for i, p := range row {
			if p != nil {
				p.Draw(canvases[j][i])
			}
		}
	}
	var b bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// panel is one plot of the series against the epoch, each value multiplied by scale; drawn names
// the series that had a point to draw.
func panel(ylabel string, scale float64, ss []series, records []Record) (p *plot.Plot, drawn []string, err error) {
	p = plot.New()
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	for i, s := range ss {
		var xys plotter.XYs
		for _, r := range records {
			v := s.get(r) * scale
			if !plottable(v) {
				continue
			}
			xys = append(xys, plotter.XY{X: float64(r.Epoch), Y: v})
		}
		if len(xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", s.name, ylabel, err)
		}
		c := plotutil.Color(i)
		line.Color = c
		line.Width = vg.Points(1.5)
		line.Dashes = plotutil.Dashes(i)
		points.Color = c
		points.Shape = draw.CircleGlyph{}
		points.Radius = vg.Points(1.5)
		p.Add(line, points)
		p.Legend.Add(s.name, line)
		drawn = append(drawn, s.name)
	}
	return p, drawn, nil
}

// plottable reports a value a figure can show: finite, and small enough that the axis range
// around it stays finite.
func plottable(v float64) bool { return !math.IsNaN(v) && math.Abs(v) < 1e300 }

// fixRange widens an axis whose data range is empty or too narrow for floating point to tell
// its ends apart (a loss of 1e24 on every epoch): gonum/plot widens by ±1, which vanishes at
// that magnitude, and then panics drawing the ticks.
func fixRange(a *plot.Axis) {
	lo, hi := a.Min, a.Max
	if math.IsInf(lo, 0) || math.IsNaN(lo) || math.IsInf(hi, 0) || math.IsNaN(hi) || lo > hi {
		a.Min, a.Max = 0, 1 // no data
		return
	}
	if pad := math.Max(1, 0.05*math.Max(math.Abs(lo), math.Abs(hi))); hi-lo < 1e-9*pad {
		a.Min, a.Max = lo-pad, hi+pad
	}
}
