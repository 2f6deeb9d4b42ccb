package data_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/train/data"
)

func TestReadCIFAR10RoundTrip(t *testing.T) {
	dir := t.TempDir()
	f1, pix1 := cifarRecords([]byte{3}, []byte{9})
	f2, pix2 := cifarRecords([]byte{0})
	p1 := writeFile(t, dir, "data_batch_1.bin", f1)
	p2 := writeFile(t, dir, "data_batch_2.bin.gz", gzipped(t, f2))
	s, err := data.ReadCIFAR10(p1, p2)
	require.NoError(t, err)
	assert.Equal(t, 3, s.Len())
	c, h, w := s.Shape()
	assert.Equal(t, []int{3, 32, 32}, []int{c, h, w})
	assert.Equal(t, 10, s.Classes())
	assert.Equal(t, []uint8{3, 9, 0}, s.Labels)
	assert.Equal(t, pix1, s.Pix[:2*3072])
	assert.Equal(t, pix2, s.Pix[2*3072:])
	img, l := s.Image(1)
	assert.Equal(t, 9, l)
	assert.Equal(t, byte(7), img[0], "record 1 starts its ramp at 7")
	assert.Equal(t, byte((7+1024)%256), img[1024], "the G plane follows the R plane")
}

func TestReadCIFAR100RoundTrip(t *testing.T) {
	dir := t.TempDir()
	f, pix := cifarRecords([]byte{19, 99}, []byte{0, 42})
	p := writeFile(t, dir, "train.bin", f)
	for _, tc := range []struct {
		fine    bool
		classes int
		labels  []uint8
	}{{true, 100, []uint8{99, 42}}, {false, 20, []uint8{19, 0}}} {
		s, err := data.ReadCIFAR100(tc.fine, p)
		require.NoError(t, err)
		assert.Equal(t, tc.classes, s.Classes())
		assert.Equal(t, tc.labels, s.Labels)
		assert.Equal(t, pix, s.Pix)
	}
}

func TestReadCIFARBadFiles(t *testing.T) {
	good10, _ := cifarRecords([]byte{1}, []byte{2})
	good100, _ := cifarRecords([]byte{1, 2})
	for _, tc := range []struct {
		name string
		file []byte
		c100 bool
		want string
	}{
		{"truncated record", good10[:3073+100], false, "record 1 is truncated: 100 of 3073 bytes"},
		{"truncated CIFAR-100 record", good100[:10], true, "record 0 is truncated: 10 of 3074 bytes"},
		{"CIFAR-10 label 10", append(append([]byte{}, good10...), cifarLabelled(10)...), false, "label 10 of record 2 is outside [0, 10)"},
		{"CIFAR-100 fine 100", cifarLabelled(3, 100), true, "fine label 100 of record 0 is outside [0, 100)"},
		{"CIFAR-100 coarse 20", cifarLabelled(20, 5), true, "coarse label 20 of record 0 is outside [0, 20)"},
		{"empty CIFAR-10", nil, false, "empty file, want CIFAR-10 records of 3073 bytes"},
		{"empty CIFAR-100", nil, true, "empty file, want CIFAR-100 records of 3074 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "batch.bin", tc.file)
			var err error
			if tc.c100 {
				_, err = data.ReadCIFAR100(true, p)
			} else {
				_, err = data.ReadCIFAR10(p)
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "data: "+p+": ")
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// cifarLabelled is one record with the given label bytes and black pixels.
func cifarLabelled(labels ...byte) []byte {
	return append(append([]byte{}, labels...), make([]byte, 3072)...)
}

func TestReadCIFARMissing(t *testing.T) {
	dir := t.TempDir()
	good, _ := cifarRecords([]byte{1})
	p1 := writeFile(t, dir, "data_batch_1.bin", good)
	missing := filepath.Join(dir, "data_batch_2.bin")
	_, err := data.ReadCIFAR10(p1, missing)
	require.Error(t, err)
	assert.Contains(t, err.Error(), missing)

	_, err = data.ReadCIFAR10()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no files given")
}
