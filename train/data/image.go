package data

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // registers JPEG with image.Decode
	_ "image/png"  // registers PNG with image.Decode
	"io"
	"os"

	"golang.org/x/image/draw"

	"github.com/resnet-go/resnet/train/internal/bounds"
)

// ImageTransform turns an image file of any size into a model's input, as torchvision's
// Resize(n) followed by CenterCrop(H, W) and a conversion to grey or RGB.
type ImageTransform struct {
	C, H, W int // the model's input: 1 (grey) or 3 (RGB) channels of H×W
	// Resize scales the image (bilinear, filtered when shrinking) so that its shorter side is
	// Resize pixels, before the centre crop. 0 leaves an image that is already H×W alone and
	// scales any other so that its shorter side is max(H, W): the largest centred square.
	Resize int
	// Invert maps every value v to 255−v: a photo of a dark garment on a light background fed to
	// a model trained on Fashion-MNIST, whose images are light on dark.
	Invert bool
}

// ReadImage decodes the PNG or JPEG at path (by content, not by name) and transforms it into
// C×H×W bytes for a model (grey is the luma of image/color, RGB three planes). The declared size
// is checked against maxPixels before any pixel is decoded.
func ReadImage(path string, t ImageTransform) ([]uint8, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	return readImage(bufio.NewReader(f), path, t)
}

// readImage is ReadImage reading from r, named path in messages.
func readImage(r io.Reader, path string, t ImageTransform) ([]uint8, error) {
	if t.C != 1 && t.C != 3 {
		return nil, fmt.Errorf("data: %s: %d channels: want 1 (grey) or 3 (RGB)", path, t.C)
	}
	if t.H < 1 || t.W < 1 || t.H > maxSide || t.W > maxSide || t.Resize < 0 || t.Resize > maxSide {
		return nil, fmt.Errorf("data: %s: transform to %dx%d with resize %d: want sizes from 1 to %d", path, t.H, t.W, t.Resize, maxSide)
	}
	if t.Resize > 0 && t.Resize < min(t.H, t.W) {
		return nil, fmt.Errorf("data: %s: resize %d is smaller than the %dx%d crop", path, t.Resize, t.H, t.W)
	}
	// DecodeConfig reads the header only; those bytes are kept and read again by Decode.
	var head bytes.Buffer
	cfg, format, err := image.DecodeConfig(io.TeeReader(r, &head))
	if err != nil {
		return nil, fmt.Errorf("data: %s: not a PNG or JPEG image: %w", path, err)
	}
	if _, err := bounds.Product(maxPixels, cfg.Height, cfg.Width); err != nil {
		return nil, fmt.Errorf("data: %s: %s image is %dx%d (height x width): %w pixels, not decoded", path, format, cfg.Height, cfg.Width, err)
	}
	img, _, err := image.Decode(io.MultiReader(&head, r))
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	b := img.Bounds()
	if b.Dy() < 1 || b.Dx() < 1 {
		return nil, fmt.Errorf("data: %s: empty image", path)
	}
	if t.Resize > 0 || b.Dy() != t.H || b.Dx() != t.W {
		nh, nw := scaledSize(b.Dy(), b.Dx(), t)
		// A long thin image scaled up to the crop would be huge: 1×4096 to a shorter side of 224
		// is 224×917504.
		if _, err := bounds.Product(maxPixels, nh, nw); err != nil {
			return nil, fmt.Errorf("data: %s: %dx%d image scaled to %dx%d: %w pixels", path, b.Dy(), b.Dx(), nh, nw, err)
		}
		img = resizeCrop(img, nh, nw, t)
	}
	out := planes(img, t.C)
	if t.Invert {
		for i, v := range out {
			out[i] = 255 - v
		}
	}
	return out, nil
}

// scaledSize is the size of an h×w image whose shorter side is scaled to t.Resize (or
// max(H, W)), the other keeping the aspect ratio; both are at least the crop.
func scaledSize(h, w int, t ImageTransform) (nh, nw int) {
	side := t.Resize
	if side == 0 {
		side = max(t.H, t.W)
	}
	nh, nw = side, side
	if h < w {
		nw = int(float64(w)*float64(side)/float64(h) + 0.5)
	} else {
		nh = int(float64(h)*float64(side)/float64(w) + 0.5)
	}
	return max(nh, t.H), max(nw, t.W)
}

// resizeCrop scales img to nh×nw and cuts the centred H×W window, rounding the offsets as
// torchvision's CenterCrop does.
func resizeCrop(img image.Image, nh, nw int, t ImageTransform) image.Image {
	scaled := image.NewRGBA(image.Rect(0, 0, nw, nh))
	draw.BiLinear.Scale(scaled, scaled.Bounds(), img, img.Bounds(), draw.Src, nil)
	top := int(float64(nh-t.H)/2 + 0.5)
	left := int(float64(nw-t.W)/2 + 0.5)
	return scaled.SubImage(image.Rect(left, top, left+t.W, top+t.H))
}
