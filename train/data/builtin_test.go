package data_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/train/data"
)

func TestBuiltin(t *testing.T) {
	for _, tc := range []struct {
		split    string
		perClass int
	}{{"train", 800}, {"test", 100}} {
		t.Run(tc.split, func(t *testing.T) {
			s, err := data.Builtin(tc.split)
			require.NoError(t, err)
			assert.Equal(t, "builtin/"+tc.split, s.Name)
			assert.Equal(t, 10*tc.perClass, s.Len())
			c, h, w := s.Shape()
			assert.Equal(t, []int{1, 28, 28}, []int{c, h, w})
			assert.Equal(t, 10, s.Classes())
			for k, n := range classCounts(s) {
				assert.Equal(t, tc.perClass, n, "class %d", k)
			}
			mean, _ := data.ChannelStats(s)
			assert.InDelta(t, 0.286, mean[0], 0.02, "Fashion-MNIST's mean grey level")
		})
	}
	_, err := data.Builtin("val")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `builtin split "val": want train or test`)
}

// TestBuiltinIsTheFirstOfEachClass checks the test subset against the Debian package's t10k
// files (make setup installs them as root): the first 100 images of each class, in file order.
func TestBuiltinIsTheFirstOfEachClass(t *testing.T) {
	dir := data.DebianFashionMNIST
	_, err := os.Stat(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"))
	require.NoError(t, err, "apt-get install dataset-fashion-mnist (make setup does it when run as root)")
	full, err := data.Open("fashion-mnist", "", "test")
	require.NoError(t, err)
	assert.Equal(t, 10000, full.Len())
	var idx []int
	count := make([]int, 10)
	for i, l := range full.Labels {
		if count[l] < 100 {
			count[l]++
			idx = append(idx, i)
		}
	}
	want := full.Subset(idx)
	got, err := data.Builtin("test")
	require.NoError(t, err)
	assert.Equal(t, want.Labels, got.Labels)
	assert.Equal(t, want.Pix, got.Pix)
}
