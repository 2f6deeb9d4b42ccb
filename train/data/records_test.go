package data_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/train/data"
)

func TestReadRecords(t *testing.T) {
	dir := t.TempDir()
	idxPix := ramp(2*28*28, 5)
	idxPath := writeFile(t, dir, "t10k-images-idx3-ubyte.gz", gzipped(t, idxFile(0x803, []uint32{2, 28, 28}, idxPix)))
	c10, c10pix := cifarRecords([]byte{4}, []byte{7})
	c10Path := writeFile(t, dir, "test_batch.bin", c10)
	c100, c100pix := cifarRecords([]byte{3, 77})
	c100Path := writeFile(t, dir, "test.bin", c100)
	for _, tc := range []struct {
		name, path, format string
		c, h, w            int
		pix                []uint8
		labels             []int
	}{
		{"idx", idxPath, "idx", 1, 28, 28, idxPix, []int{-1, -1}},
		{"cifar10", c10Path, "cifar10", 3, 32, 32, c10pix, []int{4, 7}},
		{"cifar100 fine", c100Path, "cifar100", 3, 32, 32, c100pix, []int{77}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pix, labels, err := data.ReadRecords(tc.path, tc.format, tc.c, tc.h, tc.w)
			require.NoError(t, err)
			assert.Equal(t, tc.pix, pix)
			assert.Equal(t, tc.labels, labels)
		})
	}
}

func TestReadRecordsErrors(t *testing.T) {
	dir := t.TempDir()
	idxPath := writeFile(t, dir, "images", idxFile(0x803, []uint32{1, 28, 28}, ramp(784, 0)))
	c10, _ := cifarRecords([]byte{4})
	c10Path := writeFile(t, dir, "test_batch.bin", c10)
	for _, tc := range []struct {
		name, path, format string
		c, h, w            int
		want               string
	}{
		{"idx for an RGB model", idxPath, "idx", 3, 28, 28, "images are 1x28x28, the model wants 3x28x28"},
		{"idx of another size", idxPath, "idx", 1, 32, 32, "images are 1x28x28, the model wants 1x32x32"},
		{"cifar for a grey model", c10Path, "cifar10", 1, 28, 28, "images are 3x32x32, the model wants 1x28x28"},
		{"unknown format", idxPath, "jpeg", 1, 28, 28, `unknown record format "jpeg": want idx, cifar10 or cifar100`},
		{"labels file as images", writeFile(t, dir, "labels", idxFile(0x801, []uint32{1}, []byte{1})), "idx", 1, 28, 28, "want 3 for images"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := data.ReadRecords(tc.path, tc.format, tc.c, tc.h, tc.w)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.path)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
