package runlog

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Line is one curve of a Panel: its name in the legend (none when empty: many runs of one kind
// share a name), its points, its colour (an index into gonum/plot's default palette, so that
// curves of the same net share it across panels), whether it is dashed, and whether it is drawn
// as points only (values that are not a curve, such as one per run).
type Line struct {
	Name   string
	X, Y   []float64
	Color  int
	Dashed bool
	Points bool
}

// Panel is one plot of LinesPNG. With LogY the y axis is logarithmic and points that are not
// positive are left out.
type Panel struct {
	Title, XLabel, YLabel string
	LogY                  bool
	Lines                 []Line
}

// LinesPNG draws panels of curves side by side under a title on a width×height canvas and
// returns the PNG: the experiments' figures, and the notebooks', which pass plain values
// (gophernotes' interpreter is unreliable with slices of *plot.Plot). NaN and infinite points
// are skipped; a line with no point left is left out.
func LinesPNG(title string, panels []Panel, width, height vg.Length) ([]byte, error) {
	if len(panels) == 0 {
		return nil, errors.New("runlog: no panels to draw")
	}
	plots := make([]*plot.Plot, len(panels))
	for i, pn := range panels {
		p, err := pn.plot()
		if err != nil {
			return nil, fmt.Errorf("runlog: panel %q: %w", pn.Title, err)
		}
		plots[i] = p
	}
	return PanelsPNG(title, plots, width, height)
}

// LinesGridPNG is LinesPNG for rows of panels, all rows as long, aligned.
func LinesGridPNG(title string, rows [][]Panel, width, height vg.Length) ([]byte, error) {
	if len(rows) == 0 {
		return nil, errors.New("runlog: no panels to draw")
	}
	grid := make([][]*plot.Plot, len(rows))
	for r, row := range rows {
		if len(row) != len(rows[0]) {
			return nil, fmt.Errorf("runlog: row %d has %d panels, row 0 %d", r, len(row), len(rows[0]))
		}
		for _, pn := range row {
			p, err := pn.plot()
			if err != nil {
				return nil, fmt.Errorf("runlog: panel %q: %w", pn.Title, err)
			}
			grid[r] = append(grid[r], p)
		}
	}
	return gridPNG(title, grid, width, height)
}

func (pn Panel) plot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = pn.Title
	p.X.Label.Text = pn.XLabel
	p.Y.Label.Text = pn.YLabel
	p.Add(plotter.NewGrid())
	if pn.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = powerTicks{}
	}
	var all []plotter.XYs
	named := 0
	for _, l := range pn.Lines {
		if len(l.X) != len(l.Y) {
			return nil, fmt.Errorf("line %q: %d x and %d y values", l.Name, len(l.X), len(l.Y))
		}
		var xys plotter.XYs
		for i := range l.X {
			if plottable(l.X[i]) && plottable(l.Y[i]) && (!pn.LogY || l.Y[i] > 0) {
				xys = append(xys, plotter.XY{X: l.X[i], Y: l.Y[i]})
			}
		}
		if len(xys) == 0 {
			continue
		}
		var th plot.Thumbnailer
		if l.Points {
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, fmt.Errorf("line %q: %w", l.Name, err)
			}
			sc.Color = plotutil.Color(l.Color)
			sc.Shape = draw.CircleGlyph{}
			sc.Radius = vg.Points(2.5)
			p.Add(sc)
			th = sc
		} else {
			ln, err := plotter.NewLine(xys)
			if err != nil {
				return nil, fmt.Errorf("line %q: %w", l.Name, err)
			}
			ln.Color = plotutil.Color(l.Color)
			ln.Width = vg.Points(1.8)
			if l.Dashed {
				ln.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			}
			p.Add(ln)
			th = ln
		}
		if l.Name != "" {
			p.Legend.Add(l.Name, th)
			named++
		}
		all = append(all, xys)
	}
	p.Legend.Top, p.Legend.Left = emptiestCorner(p, all, named)
	return p, nil
}

// emptiestCorner picks the corner of p for a legend of n entries: the one whose box (about a
// third of the width, 7% of the height per entry, in the axes' own scales) covers the fewest
// points of the lines; ties go to the top right.
func emptiestCorner(p *plot.Plot, lines []plotter.XYs, n int) (top, left bool) {
	norm := func(a plot.Axis, v float64) float64 { return a.Norm(v) }
	w, h := 0.35, math.Min(0.9, 0.07*float64(n)+0.03)
	best := -1
	for _, c := range []struct{ top, left bool }{{true, false}, {true, true}, {false, false}, {false, true}} {
		count := 0
		for _, xys := range lines {
			for _, xy := range xys {
				x, y := norm(p.X, xy.X), norm(p.Y, xy.Y)
				inX := (c.left && x <= w) || (!c.left && x >= 1-w)
				inY := (c.top && y >= 1-h) || (!c.top && y <= h)
				if inX && inY {
					count++
				}
			}
		}
		if best < 0 || count < best {
			best, top, left = count, c.top, c.left
		}
	}
	return top, left
}
