package data

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func encodePNG(t testing.TB, img image.Image) []byte {
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, img, &jpeg.Options{Quality: 100}))
	return b.Bytes()
}

// columns is an h×w grey image whose column x has value x (clamped to 255).
func columns(h, w int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Pix[y*w+x] = uint8(min(x, 255))
		}
	}
	return img
}

func TestReadImage(t *testing.T) {
	solid := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := 0; i < len(solid.Pix); i += 4 {
		copy(solid.Pix[i:], []uint8{200, 100, 50, 255})
	}
	for _, tc := range []struct {
		name string
		file []byte
		t    ImageTransform
		// check is called with the planes.
		check func(t *testing.T, px []uint8)
	}{
		{"a PNG of the model's size is taken as it is", encodePNG(t, columns(28, 28)), ImageTransform{C: 1, H: 28, W: 28},
			func(t *testing.T, px []uint8) { assert.Equal(t, columns(28, 28).Pix, px) }},
		{"a wider image: centre crop, no scaling", encodePNG(t, columns(28, 40)), ImageTransform{C: 1, H: 28, W: 28},
			func(t *testing.T, px []uint8) {
				// torchvision's CenterCrop: left = round((40-28)/2) = 6.
				assert.Equal(t, uint8(6), px[0])
				assert.Equal(t, uint8(33), px[27])
			}},
		{"a larger image is scaled down, shorter side to the crop", encodePNG(t, columns(56, 56)), ImageTransform{C: 1, H: 28, W: 28},
			func(t *testing.T, px []uint8) {
				require.Len(t, px, 28*28)
				assert.InDelta(t, 1, float64(px[0]), 1.5, "two columns averaged")
				assert.InDelta(t, 54, float64(px[27]), 1.5)
				for x := 1; x < 28; x++ {
					assert.Greater(t, px[x], px[x-1], "the gradient survives")
				}
			}},
		{"JPEG to RGB planes", encodeJPEG(t, solid), ImageTransform{C: 3, H: 32, W: 32},
			func(t *testing.T, px []uint8) {
				require.Len(t, px, 3*32*32)
				assert.InDelta(t, 200, float64(px[0]), 3)
				assert.InDelta(t, 100, float64(px[32*32]), 3)
				assert.InDelta(t, 50, float64(px[2*32*32]), 3)
			}},
		{"JPEG to grey", encodeJPEG(t, solid), ImageTransform{C: 1, H: 8, W: 8},
			func(t *testing.T, px []uint8) {
				assert.InDelta(t, 0.299*200+0.587*100+0.114*50, float64(px[0]), 3)
			}},
		{"explicit resize, as Resize(256) CenterCrop(224)", encodePNG(t, columns(100, 200)), ImageTransform{C: 1, H: 40, W: 40, Resize: 50},
			func(t *testing.T, px []uint8) {
				// 100×200 → 50×100, crop 40×40 from left 30: source columns near 60…138.
				assert.InDelta(t, 61, float64(px[0]), 2)
				assert.InDelta(t, 139, float64(px[39]), 2)
			}},
		{"invert", encodePNG(t, columns(28, 28)), ImageTransform{C: 1, H: 28, W: 28, Invert: true},
			func(t *testing.T, px []uint8) {
				assert.Equal(t, uint8(255), px[0])
				assert.Equal(t, uint8(255-27), px[27])
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			px, err := readImage(bytes.NewReader(tc.file), "x", tc.t)
			require.NoError(t, err)
			require.Len(t, px, tc.t.C*tc.t.H*tc.t.W)
			tc.check(t, px)
		})
	}
}

// jpegDeclaring is a valid JPEG whose frame header is patched to declare h×w.
func jpegDeclaring(t testing.TB, h, w int) []byte {
	b := encodeJPEG(t, image.NewGray(image.Rect(0, 0, 8, 8)))
	i := bytes.Index(b, []byte{0xff, 0xc0}) // baseline frame header: length, precision, height, width
	require.Positive(t, i)
	b[i+5], b[i+6], b[i+7], b[i+8] = byte(h>>8), byte(h), byte(w>>8), byte(w)
	return b
}

func TestReadImageRefuses(t *testing.T) {
	thin := image.NewGray(image.Rect(0, 0, 4096, 1))
	for _, tc := range []struct {
		name string
		file []byte
		t    ImageTransform
		want string
	}{
		{"a JPEG declaring 65535x65535", jpegDeclaring(t, 65535, 65535), ImageTransform{C: 1, H: 28, W: 28}, "jpeg image is 65535x65535 (height x width): 65535 x 65535 = 4294836225, more than 16777216 pixels, not decoded"},
		{"a long thin image scaled up", encodePNG(t, thin), ImageTransform{C: 3, H: 224, W: 224}, "1x4096 image scaled to 224x917504"},
		{"not an image", []byte("GIF89a or anything else"), ImageTransform{C: 1, H: 28, W: 28}, "x: not a PNG or JPEG image"},
		{"two channels", encodePNG(t, columns(2, 2)), ImageTransform{C: 2, H: 2, W: 2}, "2 channels"},
		{"resize below the crop", encodePNG(t, columns(2, 2)), ImageTransform{C: 1, H: 28, W: 28, Resize: 20}, "resize 20 is smaller than the 28x28 crop"},
		{"crop of no pixels", encodePNG(t, columns(2, 2)), ImageTransform{C: 1, H: 0, W: 28}, "want sizes from 1 to 4096"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := readImage(bytes.NewReader(tc.file), "x", tc.t)
			runtime.ReadMemStats(&after)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "refused before decoding or scaling")
		})
	}
}

// FuzzImage: any input is refused with an error or gives exactly C×H×W bytes.
func FuzzImage(f *testing.F) {
	f.Add(encodePNG(f, columns(28, 40)), uint8(0))
	f.Add(encodeJPEG(f, columns(30, 30)), uint8(1))
	f.Add(jpegDeclaring(f, 65535, 65535), uint8(2))
	f.Add([]byte("\x89PNG\r\n\x1a\n"), uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, mode uint8) {
		tr := ImageTransform{C: 1 + 2*int(mode&1), H: 28, W: 28, Invert: mode&2 != 0}
		if mode&4 != 0 {
			tr.Resize = 32
		}
		px, err := readImage(bytes.NewReader(b), "fuzz", tr)
		if err == nil && len(px) != tr.C*tr.H*tr.W {
			t.Fatalf("%d bytes for %dx%dx%d", len(px), tr.C, tr.H, tr.W)
		}
	})
}
