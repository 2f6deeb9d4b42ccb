package data_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/train/data"
)

// plain is an image of an indexed set as the loader writes it without augmentation.
func plain(s *data.Images, i int) []float64 {
	pix, _ := s.Image(i)
	out := make([]float64, len(pix))
	for j, v := range pix {
		out[j] = float64(float32(float64(v) / 255))
	}
	return out
}

// shifted is img (c×h×w) cropped at (dy, dx) from its padding by pad zeros, optionally mirrored.
func shifted(img []float64, c, h, w, pad, dy, dx int, flip bool) []float64 {
	out := make([]float64, len(img))
	for ch := 0; ch < c; ch++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				cx := x
				if flip {
					cx = w - 1 - x
				}
				sy, sx := y+dy-pad, cx+dx-pad
				if sy >= 0 && sy < h && sx >= 0 && sx < w {
					out[(ch*h+y)*w+x] = img[(ch*h+sy)*w+sx]
				}
			}
		}
	}
	return out
}

// TestLoaderCrop checks every cropped image exactly against the padded original at some offset
// in [0, 2*Pad]², and that the offsets vary.
func TestLoaderCrop(t *testing.T) {
	const n, c, h, w, pad = 60, 2, 6, 7, 4
	s := indexed(n, c, h, w, 3)
	l, err := data.NewLoader(s, data.LoaderConfig{Batch: 8, Shuffle: true, Seed: 1, Augment: data.Augment{Pad: pad}})
	require.NoError(t, err)
	batches := epoch(t, l, 0)
	offsets := map[[2]int]int{}
	p := 0
	for _, b := range batches {
		for r, i := range b.indices {
			got := b.x[r*c*h*w : (r+1)*c*h*w]
			var found [][2]int
			for dy := 0; dy <= 2*pad; dy++ {
				for dx := 0; dx <= 2*pad; dx++ {
					if assert.ObjectsAreEqual(shifted(plain(s, i), c, h, w, pad, dy, dx, false), got) {
						found = append(found, [2]int{dy, dx})
					}
				}
			}
			require.Len(t, found, 1, "position %d (example %d) is one crop of the padded image", p, i)
			offsets[found[0]]++
			p++
		}
	}
	assert.Greater(t, len(offsets), 20, "offsets spread over the 81 possible")
}

func TestLoaderFlip(t *testing.T) {
	const n, c, h, w = 40, 3, 3, 5
	s := indexed(n, c, h, w, 2)
	l, err := data.NewLoader(s, data.LoaderConfig{Batch: 40, Seed: 2, Augment: data.Augment{Flip: true}})
	require.NoError(t, err)
	b := epoch(t, l, 0)[0]
	flipped := 0
	for r, i := range b.indices {
		got := b.x[r*c*h*w : (r+1)*c*h*w]
		mirror := shifted(plain(s, i), c, h, w, 0, 0, 0, true)
		if assert.ObjectsAreEqual(mirror, got) {
			flipped++
			// Spot-check the mirror by hand: the last column of row 0 of channel 0 becomes the
			// first.
			assert.Equal(t, plain(s, i)[w-1], got[0])
			continue
		}
		assert.Equal(t, plain(s, i), got, "example %d: either itself or its mirror", i)
	}
	assert.Greater(t, flipped, 10, "about half flipped")
	assert.Less(t, flipped, 30, "about half flipped")
}

// TestLoaderAugmentationByPosition checks that the augmentation of an example depends on its
// position in the epoch, not on the batch it falls in, and that it changes images.
func TestLoaderAugmentationByPosition(t *testing.T) {
	s := indexed(30, 1, 8, 8, 3)
	aug := data.Augment{Pad: 4, Flip: true}
	var runs [][][]float64
	for _, batch := range []int{3, 7, 30} {
		l, err := data.NewLoader(s, data.LoaderConfig{Batch: batch, Shuffle: true, Seed: 11, Augment: aug})
		require.NoError(t, err)
		runs = append(runs, positions(epoch(t, l, 2), 64))
	}
	assert.Equal(t, runs[0], runs[1])
	assert.Equal(t, runs[0], runs[2])

	l, err := data.NewLoader(s, data.LoaderConfig{Batch: 30, Shuffle: true, Seed: 11})
	require.NoError(t, err)
	unaugmented := positions(epoch(t, l, 2), 64)
	changed := 0
	for p := range unaugmented {
		if !assert.ObjectsAreEqual(unaugmented[p], runs[0][p]) {
			changed++
		}
	}
	assert.Greater(t, changed, 25, "augmentation changes almost every image")
}
