package data

import (
	"fmt"
	"math"
	"math/rand"

	"github.com/resnet-go/resnet/train/internal/bounds"
)

// Synthetic's recipe: the class patterns are smooth (bilinear over a patternGrid×patternGrid grid
// of random grey levels per channel), each example is shifted by up to a tenth of the image size
// and gets Gaussian noise of noiseSigma grey levels. Distinct enough to be learnt quickly, noisy
// enough that a network must average rather than look up pixels.
const (
	patternGrid = 4
	noiseSigma  = 24
)

// Synthetic makes a learnable set of n images of c×h×w in the given number of classes, for tests
// and demos that must not depend on files: each class has its own fixed random pattern drawn from
// seed, and each example is its class's pattern with a small random shift and per-example noise,
// so a small network reaches a low error. Labels are balanced (counts differ by at most one) in a
// seeded random order. The same arguments give the same set.
func Synthetic(n, c, h, w, classes int, seed int64) (*Images, error) {
	return synthetic(n, c, h, w, classes, seed, int64(splitmix64(uint64(seed))))
}

// synthetic draws the class patterns from patternSeed and the examples from sampleSeed, so that a
// training and a test set can share patterns but not examples.
func synthetic(n, c, h, w, classes int, patternSeed, sampleSeed int64) (*Images, error) {
	switch {
	case n < 1 || c < 1 || h < 1 || w < 1:
		return nil, fmt.Errorf("data: synthetic set of %d images of %dx%dx%d: want positive sizes", n, c, h, w)
	case classes < 1 || classes > 256:
		return nil, fmt.Errorf("data: synthetic set of %d classes: want 1 to 256", classes)
	}
	if _, err := bounds.Product(maxBytes, n, c, h, w); err != nil {
		return nil, fmt.Errorf("data: synthetic set of %d images of %dx%dx%d: %w", n, c, h, w, err)
	}
	prng := rand.New(rand.NewSource(patternSeed))
	patterns := make([][]float64, classes)
	for k := range patterns {
		patterns[k] = smoothPattern(prng, c, h, w)
	}
	rng := rand.New(rand.NewSource(sampleSeed))
	s := &Images{Name: "synthetic", C: c, H: h, W: w, NumClasses: classes,
		Pix: make([]uint8, n*c*h*w), Labels: make([]uint8, n)}
	for i := range s.Labels {
		s.Labels[i] = uint8(i % classes)
	}
	rng.Shuffle(n, func(i, j int) { s.Labels[i], s.Labels[j] = s.Labels[j], s.Labels[i] })
	shift := min(h, w) / 10
	size := c * h * w
	for i, l := range s.Labels {
		dy, dx := rng.Intn(2*shift+1)-shift, rng.Intn(2*shift+1)-shift
		pat, out := patterns[l], s.Pix[i*size:(i+1)*size]
		for ch := 0; ch < c; ch++ {
			for y := 0; y < h; y++ {
				sy := min(max(y-dy, 0), h-1)
				for x := 0; x < w; x++ {
					sx := min(max(x-dx, 0), w-1)
					v := pat[(ch*h+sy)*w+sx] + noiseSigma*rng.NormFloat64()
					out[(ch*h+y)*w+x] = uint8(min(max(math.Round(v), 0), 255))
				}
			}
		}
	}
	return s, nil
}

// smoothPattern is a c×h×w image of grey levels interpolated bilinearly over a random grid per
// channel.
func smoothPattern(rng *rand.Rand, c, h, w int) []float64 {
	p := make([]float64, c*h*w)
	for ch := 0; ch < c; ch++ {
		var grid [patternGrid][patternGrid]float64
		for i := range grid {
			for j := range grid[i] {
				grid[i][j] = 255 * rng.Float64()
			}
		}
		for y := 0; y < h; y++ {
			y0, ty := gridCell(y, h)
			for x := 0; x < w; x++ {
				x0, tx := gridCell(x, w)
				top := (1-tx)*grid[y0][x0] + tx*grid[y0][x0+1]
				bottom := (1-tx)*grid[y0+1][x0] + tx*grid[y0+1][x0+1]
				p[(ch*h+y)*w+x] = (1-ty)*top + ty*bottom
			}
		}
	}
	return p
}

// gridCell maps pixel i of n onto the pattern grid: the cell's first node and the fraction
// towards the next.
func gridCell(i, n int) (int, float64) {
	if n == 1 {
		return 0, 0
	}
	f := float64(i) * (patternGrid - 1) / float64(n-1)
	j := min(int(f), patternGrid-2)
	return j, f - float64(j)
}
