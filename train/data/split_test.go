package data_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/train/data"
)

// ids recovers the original indices of an indexed set's images.
func ids(s *data.Images) []int {
	out := make([]int, s.Len())
	for i := range out {
		pix, _ := s.Image(i)
		out[i] = int(pix[0]) | int(pix[1])<<8
	}
	return out
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name       string
		n, classes int
		nVal       int
		perClass   int // validation examples of each class, when the split is exact
	}{
		{"stratified", 100, 10, 20, 2},
		{"uneven", 103, 7, 31, -1},
		{"none held out", 30, 3, 0, 0},
		{"all but one", 30, 3, 29, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := indexed(tc.n, 1, 2, 2, tc.classes)
			train, val, err := data.Split(s, tc.nVal, 42)
			require.NoError(t, err)
			assert.Equal(t, tc.nVal, val.Len())
			assert.Equal(t, tc.n-tc.nVal, train.Len())
			assert.Equal(t, s.Name, train.Name)
			assert.Equal(t, s.Name+"/val", val.Name)
			seen := make([]int, tc.n)
			for _, part := range []*data.Images{train, val} {
				got := ids(part)
				assert.IsIncreasing(t, append([]int{-1}, got...), "original order kept")
				for j, i := range got {
					seen[i]++
					_, l := part.Image(j)
					assert.Equal(t, i%tc.classes, l, "label follows its image")
				}
			}
			for i, k := range seen {
				assert.Equal(t, 1, k, "example %d in exactly one part", i)
			}
			counts := classCounts(val)
			for k, c := range counts {
				if tc.perClass >= 0 {
					assert.Equal(t, tc.perClass, c, "class %d", k)
				}
				// Largest remainder: each class within one of its exact share.
				exact := float64(tc.nVal) * float64(len(classIdx(s, k))) / float64(tc.n)
				assert.InDelta(t, exact, float64(c), 1, "class %d", k)
			}

			again, _, err := data.Split(s, tc.nVal, 42)
			require.NoError(t, err)
			assert.Equal(t, ids(train), ids(again), "same seed, same split")
		})
	}
}

func TestSplitSeed(t *testing.T) {
	s := indexed(200, 1, 2, 2, 10)
	_, a, err := data.Split(s, 50, 1)
	require.NoError(t, err)
	_, b, err := data.Split(s, 50, 2)
	require.NoError(t, err)
	assert.NotEqual(t, ids(a), ids(b))
}

func TestSplitErrors(t *testing.T) {
	s := indexed(10, 1, 2, 2, 2)
	for _, nVal := range []int{-1, 10, 11} {
		_, _, err := data.Split(s, nVal, 1)
		require.Error(t, err, "nVal %d", nVal)
		assert.Contains(t, err.Error(), "out of 10: want 0 ≤ n < 10")
	}
}

// classIdx lists the examples of class k.
func classIdx(s *data.Images, k int) []int {
	var out []int
	for i, l := range s.Labels {
		if int(l) == k {
			out = append(out, i)
		}
	}
	return out
}
