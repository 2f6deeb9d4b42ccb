package data

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
)

// ReadPNG decodes the PNG at path into c×h×w bytes for a model: c = 1 is grey (the standard luma
// conversion of image/color, Y = 0.299 R + 0.587 G + 0.114 B), c = 3 is R, G and B planes. The
// image must be h×w already: resizing would change what the model sees, so it is the caller's
// explicit choice. Transparent pixels count as composited over black.
func ReadPNG(path string, c, h, w int) ([]uint8, error) {
	if c != 1 && c != 3 {
		return nil, fmt.Errorf("data: %s: %d channels: want 1 (grey) or 3 (RGB)", path, c)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	b := img.Bounds()
	if b.Dy() != h || b.Dx() != w {
		return nil, fmt.Errorf("data: %s: image is %dx%d (height x width), want %dx%d", path, b.Dy(), b.Dx(), h, w)
	}
	return planes(img, c), nil
}

// planes converts img to c CHW planes of bytes.
func planes(img image.Image, c int) []uint8 {
	b := img.Bounds()
	h, w := b.Dy(), b.Dx()
	out := make([]uint8, c*h*w)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			px := img.At(b.Min.X+x, b.Min.Y+y)
			if c == 1 {
				out[y*w+x] = color.GrayModel.Convert(px).(color.Gray).Y
				continue
			}
			r, g, bl, _ := px.RGBA()
			out[y*w+x] = uint8(r >> 8)
			out[(h+y)*w+x] = uint8(g >> 8)
			out[(2*h+y)*w+x] = uint8(bl >> 8)
		}
	}
	return out
}
