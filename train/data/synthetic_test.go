package data_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/train/data"
)

func TestSyntheticDeterministic(t *testing.T) {
	a, err := data.Synthetic(50, 3, 8, 8, 4, 7)
	require.NoError(t, err)
	b, err := data.Synthetic(50, 3, 8, 8, 4, 7)
	require.NoError(t, err)
	c, err := data.Synthetic(50, 3, 8, 8, 4, 8)
	require.NoError(t, err)
	assert.Equal(t, a, b, "same seed, same set")
	assert.NotEqual(t, a.Pix, c.Pix, "another seed, another set")
	assert.Equal(t, 50*3*8*8, len(a.Pix))
	ch, h, w := a.Shape()
	assert.Equal(t, []int{3, 8, 8}, []int{ch, h, w})
	assert.Equal(t, 4, a.Classes())
}

func TestSyntheticTiny(t *testing.T) {
	// One pixel per image: the pattern is one grey level per class, plus noise.
	s, err := data.Synthetic(20, 1, 1, 1, 2, 3)
	require.NoError(t, err)
	assert.Len(t, s.Pix, 20)
	assert.Equal(t, []int{10, 10}, classCounts(s))
}

func TestSyntheticBalanced(t *testing.T) {
	s, err := data.Synthetic(103, 1, 6, 6, 10, 1)
	require.NoError(t, err)
	counts := classCounts(s)
	for k, n := range counts {
		assert.Contains(t, []int{10, 11}, n, "class %d", k)
	}
	assert.NotEqual(t, []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, s.Labels[:10], "labels come in a shuffled order")
}

// TestSyntheticLearnable checks that Open's synthetic splits share their class patterns: a
// nearest-class-mean classifier fitted on train classifies test almost perfectly.
func TestSyntheticLearnable(t *testing.T) {
	train, err := data.Open("synthetic", "", "train")
	require.NoError(t, err)
	test, err := data.Open("synthetic", "", "test")
	require.NoError(t, err)
	assert.Equal(t, 2000, train.Len())
	assert.Equal(t, 500, test.Len())
	assert.Equal(t, "synthetic/test", test.Name)
	assert.NotEqual(t, train.Pix[:784], test.Pix[:784])

	size := 28 * 28
	means := make([][]float64, 10)
	for k := range means {
		means[k] = make([]float64, size)
	}
	counts := classCounts(train)
	for i := 0; i < train.Len(); i++ {
		pix, l := train.Image(i)
		for j, v := range pix {
			means[l][j] += float64(v) / float64(counts[l])
		}
	}
	right := 0
	for i := 0; i < test.Len(); i++ {
		pix, l := test.Image(i)
		best, bestD := -1, 0.0
		for k, m := range means {
			d := 0.0
			for j, v := range pix {
				d += (float64(v) - m[j]) * (float64(v) - m[j])
			}
			if best < 0 || d < bestD {
				best, bestD = k, d
			}
		}
		if best == l {
			right++
		}
	}
	assert.Greater(t, float64(right)/float64(test.Len()), 0.95)
}

func TestSyntheticErrors(t *testing.T) {
	for _, tc := range []struct {
		name                string
		n, c, h, w, classes int
		want                string
	}{
		{"no images", 0, 1, 4, 4, 2, "synthetic set of 0 images of 1x4x4: want positive sizes"},
		{"no width", 5, 1, 4, 0, 2, "want positive sizes"},
		{"no classes", 5, 1, 4, 4, 0, "synthetic set of 0 classes: want 1 to 256"},
		{"too many classes", 5, 1, 4, 4, 300, "synthetic set of 300 classes"},
		// int64(c)*int64(h)*int64(w) wrapped to a small number here.
		{"sizes whose product wraps", 2, 1 << 31, 1 << 31, 1 << 31, 2, "more than 1099511627776"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := data.Synthetic(tc.n, tc.c, tc.h, tc.w, tc.classes, 1)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// classCounts counts the examples of each class.
func classCounts(s *data.Images) []int {
	counts := make([]int, s.Classes())
	for _, l := range s.Labels {
		counts[l]++
	}
	return counts
}
