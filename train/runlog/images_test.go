package runlog

import (
	"bytes"
	"image"
	"image/png"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot/vg"
)

// square is a C×8×8 image whose every pixel is v.
func square(c int, v uint8, title string) Shown {
	pix := bytes.Repeat([]byte{v}, c*8*8)
	return Shown{Pix: pix, C: c, H: 8, W: 8, Title: title}
}

// barBlue counts the pixels of the bars' colour.
func barBlue(img image.Image) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r>>8 == 30 && g>>8 == 90 && bl>>8 == 190 {
				n++
			}
		}
	}
	return n
}

func TestImagesPNG(t *testing.T) {
	withBars := square(1, 200, "coat")
	withBars.Classes, withBars.Probs = []string{"Coat", "Shirt"}, []float64{0.75, 0.25}
	for _, tc := range []struct {
		name   string
		images []Shown
		perRow int
		rows   int
		bars   bool
	}{
		{"grey, one row", []Shown{square(1, 0, "a"), square(1, 255, "b")}, 4, 1, false},
		{"RGB, two rows", []Shown{square(3, 10, "a"), square(3, 20, "b"), square(3, 30, "c")}, 2, 2, false},
		{"with bars", []Shown{withBars, square(1, 50, "no classes")}, 2, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ImagesPNG("title", tc.images, tc.perRow, 6*vg.Inch, 1.5*vg.Inch)
			require.NoError(t, err)
			img, err := png.Decode(bytes.NewReader(b))
			require.NoError(t, err)
			assert.Equal(t, 600, img.Bounds().Dx())
			assert.Equal(t, tc.rows*150, img.Bounds().Dy())
			assert.Equal(t, tc.bars, barBlue(img) > 100, "bars drawn")
		})
	}
}

func TestImagesPNGErrors(t *testing.T) {
	bad := func(f func(*Shown)) []Shown {
		s := square(1, 1, "x")
		f(&s)
		return []Shown{s}
	}
	for _, tc := range []struct {
		name   string
		images []Shown
		perRow int
		want   string
	}{
		{"no images", nil, 1, "no images"},
		{"no columns", []Shown{square(1, 1, "x")}, 0, "0 images per row"},
		{"two channels", bad(func(s *Shown) { s.C = 2 }), 1, "shape 2×8×8"},
		{"short pixels", bad(func(s *Shown) { s.Pix = s.Pix[:10] }), 1, "10 bytes for a 1×8×8 image"},
		{"probabilities missing", bad(func(s *Shown) { s.Classes = []string{"a", "b"}; s.Probs = []float64{1} }), 1, "2 classes and 1 probabilities"},
		{"not a probability", bad(func(s *Shown) { s.Classes = []string{"a"}; s.Probs = []float64{1.5} }), 1, `probability 1.5 of "a"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ImagesPNG("", tc.images, tc.perRow, 4*vg.Inch, vg.Inch)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestLinesPNG(t *testing.T) {
	up := Line{Name: "up", X: []float64{1, 2, 3}, Y: []float64{0, 1, 10}}
	for _, tc := range []struct {
		name   string
		panels []Panel
		want   string // error
	}{
		{"two panels, log scale skips zero", []Panel{{Title: "a", LogY: true, Lines: []Line{up}}, {Title: "b", Lines: []Line{up}}}, ""},
		{"a line with nothing to draw is left out", []Panel{{LogY: true, Lines: []Line{{Name: "zeros", X: []float64{1}, Y: []float64{0}}, up}}}, ""},
		{"no panels", nil, "no panels"},
		{"x and y differ", []Panel{{Title: "p", Lines: []Line{{Name: "bad", X: []float64{1, 2}, Y: []float64{1}}}}}, `panel "p": line "bad": 2 x and 1 y values`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := LinesPNG("t", tc.panels, 8*vg.Inch, 3*vg.Inch)
			if tc.want != "" {
				assert.ErrorContains(t, err, tc.want)
				return
			}
			require.NoError(t, err)
			cfg, err := png.DecodeConfig(bytes.NewReader(b))
			require.NoError(t, err)
			assert.Equal(t, [2]int{800, 300}, [2]int{cfg.Width, cfg.Height})
		})
	}
}

// Rows of panels, points and unnamed lines: the study figures' form.
func TestLinesGridPNG(t *testing.T) {
	pts := Line{Name: "runs", X: []float64{0.25, 0.75}, Y: []float64{1, 2}, Points: true}
	anon := Line{X: []float64{1, 2}, Y: []float64{2, 1}}
	b, err := LinesGridPNG("grid", [][]Panel{{{Lines: []Line{pts}}, {Lines: []Line{anon, anon}}}, {{Lines: []Line{anon}}, {LogY: true, Lines: []Line{pts}}}}, 6*vg.Inch, 4*vg.Inch)
	require.NoError(t, err)
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	require.NoError(t, err)
	assert.Equal(t, [2]int{600, 400}, [2]int{cfg.Width, cfg.Height})

	_, err = LinesGridPNG("", [][]Panel{{{}, {}}, {{}}}, vg.Inch, vg.Inch)
	assert.ErrorContains(t, err, "row 1 has 1 panels, row 0 2")
	_, err = LinesGridPNG("", nil, vg.Inch, vg.Inch)
	assert.ErrorContains(t, err, "no panels")
}

// The legend goes to the corner with the fewest points under it.
func TestEmptiestCorner(t *testing.T) {
	for _, tc := range []struct {
		name      string
		y         []float64
		top, left bool
	}{
		{"falling line: top right is empty", []float64{100, 30, 10, 3, 1, 1, 1, 1, 1, 1}, true, false},
		{"rising line: top left", []float64{1, 1, 1, 1, 1, 1, 3, 10, 30, 100}, true, true},
		{"high at both ends: bottom right", []float64{100, 100, 100, 1, 1, 1, 100, 100, 100, 100}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := make([]float64, len(tc.y))
			for i := range x {
				x[i] = float64(i + 1)
			}
			p, err := Panel{LogY: true, Lines: []Line{{Name: "a", X: x, Y: tc.y}, {Name: "b", X: x, Y: tc.y}}}.plot()
			require.NoError(t, err)
			assert.Equal(t, [2]bool{tc.top, tc.left}, [2]bool{p.Legend.Top, p.Legend.Left})
		})
	}
}
