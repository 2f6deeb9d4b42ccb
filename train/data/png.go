package data

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"

	"github.com/resnet-go/resnet/train/internal/bounds"
)

// maxPixels bounds the pixels of a PNG that ReadPNG decodes (16 Mi, 4096×4096: maxSide squared),
// whatever size the caller wants. The decoder allocates the whole image, up to 8 bytes a pixel
// for 16-bit RGBA, from the size in the header before it has read a pixel: a file of a few dozen
// bytes declaring 200000×200000 would ask for 320 GB. So the size is checked first, and this caps
// what a header alone can cost at 128 MiB.
const maxPixels = maxSide * maxSide

// ReadPNG decodes the PNG at path into c×h×w bytes for a model: c = 1 is grey (the standard luma
// conversion of image/color, Y = 0.299 R + 0.587 G + 0.114 B), c = 3 is R, G and B planes. The
// image must be h×w already: resizing would change what the model sees, so it is the caller's
// explicit choice. Transparent pixels count as composited over black. The declared size is
// checked, against h×w and maxPixels, before any pixel is decoded.
func ReadPNG(path string, c, h, w int) ([]uint8, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	return readPNG(bufio.NewReader(f), path, c, h, w)
}

// readPNG is ReadPNG reading from r, named path in messages.
func readPNG(r io.Reader, path string, c, h, w int) ([]uint8, error) {
	if c != 1 && c != 3 {
		return nil, fmt.Errorf("data: %s: %d channels: want 1 (grey) or 3 (RGB)", path, c)
	}
	// DecodeConfig reads only up to the header (and the palette); those bytes are kept and read
	// again by Decode.
	var head bytes.Buffer
	cfg, err := png.DecodeConfig(io.TeeReader(r, &head))
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	if _, err := bounds.Product(maxPixels, cfg.Height, cfg.Width); err != nil {
		return nil, fmt.Errorf("data: %s: image is %dx%d (height x width): %w pixels, not decoded", path, cfg.Height, cfg.Width, err)
	}
	if cfg.Height != h || cfg.Width != w {
		return nil, fmt.Errorf("data: %s: image is %dx%d (height x width), want %dx%d", path, cfg.Height, cfg.Width, h, w)
	}
	img, err := png.Decode(io.MultiReader(&head, r))
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	// The decoder's bounds are those of the header just checked; this guards planes regardless.
	if b := img.Bounds(); b.Dy() != h || b.Dx() != w {
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
