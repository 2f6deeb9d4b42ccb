package data_test

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/train/data"
)

// writePNG encodes img into dir/name.
func writePNG(t *testing.T, dir, name string, img image.Image) string {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	require.NoError(t, err)
	require.NoError(t, png.Encode(f, img))
	require.NoError(t, f.Close())
	return p
}

func TestReadPNG(t *testing.T) {
	dir := t.TempDir()
	// A 2×3 (height × width) grey image and an RGB one, to check the plane layout and the row
	// order.
	gray := image.NewGray(image.Rect(0, 0, 3, 2))
	copy(gray.Pix, []uint8{10, 20, 30, 40, 50, 60})
	rgb := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	colors := []color.NRGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {1, 2, 3, 255}, {200, 100, 50, 255}, {255, 255, 255, 255}}
	for i, c := range colors {
		rgb.SetNRGBA(i%3, i/3, c)
	}
	grayPath := writePNG(t, dir, "gray.png", gray)
	rgbPath := writePNG(t, dir, "rgb.png", rgb)
	luma := func(c color.NRGBA) uint8 { return color.GrayModel.Convert(c).(color.Gray).Y }
	for _, tc := range []struct {
		name, path string
		c          int
		want       []uint8
	}{
		{"gray as gray", grayPath, 1, []uint8{10, 20, 30, 40, 50, 60}},
		{"gray as RGB", grayPath, 3, []uint8{10, 20, 30, 40, 50, 60, 10, 20, 30, 40, 50, 60, 10, 20, 30, 40, 50, 60}},
		{"RGB as RGB", rgbPath, 3, []uint8{
			255, 0, 0, 1, 200, 255, // R plane
			0, 255, 0, 2, 100, 255, // G
			0, 0, 255, 3, 50, 255, // B
		}},
		{"RGB as gray", rgbPath, 1, []uint8{luma(colors[0]), luma(colors[1]), luma(colors[2]), luma(colors[3]), luma(colors[4]), 255}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pix, err := data.ReadPNG(tc.path, tc.c, 2, 3)
			require.NoError(t, err)
			assert.Equal(t, tc.want, pix)
		})
	}
	// The standard luma weights: pure green is 0.587 of white.
	assert.Equal(t, uint8(150), luma(colors[1]))
}

func TestReadPNGErrors(t *testing.T) {
	dir := t.TempDir()
	p := writePNG(t, dir, "img.png", image.NewGray(image.Rect(0, 0, 3, 2)))
	notPNG := writeFile(t, dir, "not.png", []byte("this is not a PNG file, only text"))
	for _, tc := range []struct {
		name, path string
		c, h, w    int
		want       string
	}{
		{"size mismatch", p, 1, 28, 28, "image is 2x3 (height x width), want 28x28"},
		{"transposed", p, 1, 3, 2, "image is 2x3 (height x width), want 3x2"},
		{"channels", p, 2, 2, 3, "2 channels: want 1 (grey) or 3 (RGB)"},
		{"not a PNG", notPNG, 1, 2, 3, "png: invalid format"},
		{"missing", filepath.Join(dir, "missing.png"), 1, 2, 3, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := data.ReadPNG(tc.path, tc.c, tc.h, tc.w)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.path)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestReadPNGDeclaredSize: the size a PNG declares is checked before a pixel is decoded. The
// 200000×200000 RGBA16 file is a decompression bomb of 72 bytes (the decoder would allocate 320
// GB for it); the 4000×4000 one would cost 128 MB before its data ran out; the sizes above
// maxPixels are refused even when they are the ones wanted.
func TestReadPNGDeclaredSize(t *testing.T) {
	dir := t.TempDir()
	bomb := writeFile(t, dir, "bomb.png", pngFile(200000, 200000, 16, 6))
	big := writeFile(t, dir, "big.png", pngFile(4000, 3000, 16, 6))
	wide := writeFile(t, dir, "wide.png", pngFile(5000, 4000, 8, 0))
	for _, tc := range []struct {
		name, path string
		h, w       int
		want       string
	}{
		{"bomb, 28x28 wanted", bomb, 28, 28, "image is 200000x200000 (height x width): 200000 x 200000 = 40000000000, more than 16777216 pixels"},
		{"bomb, its size wanted", bomb, 200000, 200000, "image is 200000x200000 (height x width): 200000 x 200000 = 40000000000, more than 16777216 pixels"},
		{"large, 28x28 wanted", big, 28, 28, "image is 3000x4000 (height x width), want 28x28"},
		{"above the cap, its size wanted", wide, 4000, 5000, "image is 4000x5000 (height x width): 4000 x 5000 = 20000000, more than 16777216 pixels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			alloc := allocated(func() { _, err = data.ReadPNG(tc.path, 3, tc.h, tc.w) })
			require.Error(t, err)
			assert.Contains(t, err.Error(), "data: "+tc.path+": ")
			assert.Contains(t, err.Error(), tc.want)
			assert.Less(t, alloc, uint64(1<<20), "bytes allocated before the size was refused")
		})
	}
}
