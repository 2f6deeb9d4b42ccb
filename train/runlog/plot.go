package runlog

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Size of the curves figure.
const (
	plotWidth  = 13 * vg.Inch
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
// sees half an image): the cross-entropy loss (log scale, so that an early spike of the
// evaluation loss does not flatten the rest), the error in % and the learning rate (log scale),
// each against the epoch. A series that is NaN in every record is left out, and the NaN (or
// infinite, or for a log axis non-positive) points of the others are skipped, so a test set
// evaluated every few epochs still draws a line.
func PlotCurves(records []Record, path, title string) error {
	lr := []series{{"lr", func(r Record) float64 { return r.LR }}}
	var panels []*plot.Plot
	for _, pn := range []struct {
		ylabel string
		scale  float64
		ss     []series
		logY   bool
	}{
		{"cross-entropy loss (log scale)", 1, lossSeries(), true},
		{"error (%)", 100, errSeries(), false},
		{"learning rate (log scale)", 1, lr, true},
	} {
		p, _, err := panel(pn.ylabel, pn.scale, pn.ss, records, pn.logY)
		if err != nil {
			return fmt.Errorf("runlog: plotting %s: %w", path, err)
		}
		panels = append(panels, p)
	}
	png, err := PanelsPNG(title, panels, plotWidth, plotHeight)
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

// panel is one plot of the series against the epoch (integer ticks), each value multiplied by
// scale, on a log axis with logY (non-positive values skipped); drawn names the series that had a
// point to draw.
func panel(ylabel string, scale float64, ss []series, records []Record, logY bool) (p *plot.Plot, drawn []string, err error) {
	p = plot.New()
	p.X.Label.Text = "epoch"
	p.X.Tick.Marker = epochTicks{}
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = powerTicks{}
	}
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	for i, s := range ss {
		var xys plotter.XYs
		for _, r := range records {
			v := s.get(r) * scale
			if !plottable(v) || (logY && v <= 0) {
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
// that magnitude, and then panics drawing the ticks. A log axis gets a positive range.
func fixRange(a *plot.Axis) {
	lo, hi := a.Min, a.Max
	_, logScale := a.Scale.(plot.LogScale)
	if math.IsInf(lo, 0) || math.IsNaN(lo) || math.IsInf(hi, 0) || math.IsNaN(hi) || lo > hi || (logScale && hi <= 0) {
		a.Min, a.Max = 0, 1 // no data
		if logScale {
			a.Min, a.Max = 0.1, 10
		}
		return
	}
	if logScale {
		if lo <= 0 {
			lo = hi / 1e3
		}
		if hi/lo < 1.5 { // too narrow for a decade's ticks to show
			lo, hi = lo/2, hi*2
		}
		a.Min, a.Max = lo, hi
		return
	}
	if pad := math.Max(1, 0.05*math.Max(math.Abs(lo), math.Abs(hi))); hi-lo < 1e-9*pad {
		a.Min, a.Max = lo-pad, hi+pad
	}
}

// epochTicks marks whole epochs only: every epoch up to ten, then a round step.
type epochTicks struct{}

func (epochTicks) Ticks(lo, hi float64) []plot.Tick {
	first, last := math.Ceil(lo), math.Floor(hi)
	if !(last >= first) || last-first > 1e6 {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	step := 1.0
	for _, s := range []float64{1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 1e5, 1e6} {
		if step = s; (last-first)/s <= 10 {
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(first/step) * step; v <= last; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return ticks
}

// powerTicks are log ticks within the range: the powers of ten labelled as 0.001 or 10⁵ rather
// than 1e-03 or 1e+05, the multiples 2…9 between them unlabelled, unless the range holds fewer
// than two powers of ten, when the multiples 2, 3 and 5 are labelled too. (gonum/plot's LogTicks
// truncates the log of a minimum below 1 towards zero and so misses the ticks under 1.)
type powerTicks struct{}

func (powerTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0 && hi >= lo) || math.IsInf(hi, 0) {
		return nil
	}
	in := func(v float64) bool { return v >= lo*(1-1e-9) && v <= hi*(1+1e-9) }
	var ticks []plot.Tick
	labelled := 0
	for e := int(math.Floor(math.Log10(lo))); e <= int(math.Ceil(math.Log10(hi))); e++ {
		for m := 1; m < 10; m++ {
			v := float64(m) * math.Pow(10, float64(e))
			if !in(v) {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 {
				t.Label = powerOfTen(e)
				labelled++
			}
			ticks = append(ticks, t)
		}
	}
	if labelled < 2 { // label the multiples 1, 2, 3 and 5 too (all nine crowd the top of a decade)
		for i := range ticks {
			m := ticks[i].Value / math.Pow(10, math.Floor(math.Log10(ticks[i].Value)+1e-9))
			if r := math.Round(m); math.Abs(m-r) < 1e-6 && (r == 1 || r == 2 || r == 3 || r == 5) {
				ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'g', 3, 64)
			}
		}
	}
	return ticks
}

// powerOfTen writes 10^e as a reader would: 0.0001 … 1000 as decimals, larger powers with
// superscript digits (10⁵), smaller ones as 1e-05 (the plots' font has no superscript minus).
func powerOfTen(e int) string {
	switch {
	case e < -4:
		return strconv.FormatFloat(math.Pow(10, float64(e)), 'e', -1, 64)
	case e <= 3:
		return strconv.FormatFloat(math.Pow(10, float64(e)), 'f', -1, 64)
	}
	digits := []rune("⁰¹²³⁴⁵⁶⁷⁸⁹")
	var b strings.Builder
	b.WriteString("10")
	for _, c := range strconv.Itoa(e) {
		b.WriteRune(digits[c-'0'])
	}
	return b.String()
}
