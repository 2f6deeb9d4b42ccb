package runlog

import (
	"errors"
	"fmt"
	"image"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Shown is one image of ImagesPNG: its pixels as C×H×W bytes (C = 1 grey or 3 RGB, channel
// after channel: the layout of data.Images), a title, and optionally the classes a model ranked
// highest with their probabilities (0…1), most probable first, drawn as bars beside it.
type Shown struct {
	Pix     []uint8
	C, H, W int
	Title   string
	Classes []string
	Probs   []float64
}

// ImagesPNG draws images in rows of perRow under a title, each followed by the bar chart of its
// classes when it has some, on a canvas width wide and rowHeight high per row, and returns the
// PNG. It is the figure of predictions of the notebooks: built here, compiled, so that a notebook
// passes plain values (gophernotes' interpreter is unreliable with slices of *plot.Plot).
func ImagesPNG(title string, images []Shown, perRow int, width, rowHeight vg.Length) ([]byte, error) {
	if perRow < 1 {
		return nil, fmt.Errorf("runlog: %d images per row: want at least 1", perRow)
	}
	if len(images) == 0 {
		return nil, errors.New("runlog: no images to draw")
	}
	bars := false
	for _, s := range images {
		bars = bars || len(s.Classes) > 0
	}
	cols := perRow
	if bars {
		cols *= 2
	}
	var rows [][]*plot.Plot
	for i, s := range images {
		img, err := s.image()
		if err != nil {
			return nil, fmt.Errorf("runlog: image %d (%q): %w", i, s.Title, err)
		}
		if i%perRow == 0 {
			rows = append(rows, make([]*plot.Plot, cols))
		}
		row, col := rows[len(rows)-1], i%perRow
		if bars {
			col *= 2
		}
		row[col] = imagePanel(img, s.Title)
		if len(s.Classes) > 0 {
			if row[col+1], err = barPanel(s.Classes, s.Probs); err != nil {
				return nil, fmt.Errorf("runlog: image %d (%q): %w", i, s.Title, err)
			}
		}
	}
	return gridPNG(title, rows, width, rowHeight*vg.Length(len(rows)))
}

// image checks the pixels against the shape and converts them.
func (s Shown) image() (image.Image, error) {
	if s.H < 1 || s.W < 1 || (s.C != 1 && s.C != 3) {
		return nil, fmt.Errorf("shape %d×%d×%d: want 1 or 3 channels of at least 1×1", s.C, s.H, s.W)
	}
	n := s.H * s.W
	if len(s.Pix) != s.C*n {
		return nil, fmt.Errorf("%d bytes for a %d×%d×%d image", len(s.Pix), s.C, s.H, s.W)
	}
	if s.C == 1 {
		g := image.NewGray(image.Rect(0, 0, s.W, s.H))
		copy(g.Pix, s.Pix)
		return g, nil
	}
	rgb := image.NewRGBA(image.Rect(0, 0, s.W, s.H))
	for i := range n {
		rgb.Pix[4*i], rgb.Pix[4*i+1], rgb.Pix[4*i+2], rgb.Pix[4*i+3] = s.Pix[i], s.Pix[n+i], s.Pix[2*n+i], 255
	}
	return rgb, nil
}

func imagePanel(img image.Image, title string) *plot.Plot {
	p := plot.New()
	p.HideAxes()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(9)
	b := img.Bounds()
	p.Add(plotter.NewImage(img, 0, 0, float64(b.Dx()), float64(b.Dy())))
	return p
}

// barPanel is a horizontal bar chart of the classes' probabilities in %, the first at the top.
func barPanel(classes []string, probs []float64) (*plot.Plot, error) {
	if len(probs) != len(classes) {
		return nil, fmt.Errorf("%d classes and %d probabilities", len(classes), len(probs))
	}
	k := len(probs)
	vals, names := make(plotter.Values, k), make([]string, k)
	for i := range probs {
		if !(probs[i] >= 0 && probs[i] <= 1) {
			return nil, fmt.Errorf("probability %g of %q: want 0 to 1", probs[i], classes[i])
		}
		vals[k-1-i], names[k-1-i] = 100*probs[i], classes[i]
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(9))
	if err != nil {
		return nil, err
	}
	bars.Horizontal = true
	bars.Color = color.RGBA{R: 30, G: 90, B: 190, A: 255}
	bars.LineStyle.Width = 0
	p := plot.New()
	p.Add(bars)
	p.NominalY(names...)
	p.X.Min, p.X.Max = 0, 100
	p.X.Label.Text = "probability (%)"
	p.Y.Tick.Label.Font.Size = vg.Points(8)
	return p, nil
}
