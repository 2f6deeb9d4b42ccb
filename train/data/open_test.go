package data_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/train/data"
)

func TestOpenErrors(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		name, set, dir, split string
		want                  []string
		notExist              bool
	}{
		{"unknown name", "imagenet", "", "train", []string{`unknown data set "imagenet"`, data.Names}, false},
		{"bad split", "cifar10", empty, "val", []string{`cifar10 split "val": want train or test`}, false},
		{"cifar10 without dir", "cifar10", "", "train", []string{"cifar10 needs", "-data-dir"}, false},
		{"cifar100 without dir", "cifar100", "", "test", []string{"cifar100 needs", "-data-dir"}, false},
		{"mnist without dir", "mnist", "", "train", []string{"mnist needs", "-data-dir"}, false},
		{"fashion-mnist missing", "fashion-mnist", empty, "test", []string{
			filepath.Join(empty, "t10k-images-idx3-ubyte.gz"), filepath.Join(empty, "t10k-labels-idx1-ubyte"),
			"apt-get install dataset-fashion-mnist"}, true},
		{"mnist missing", "mnist", empty, "train", []string{filepath.Join(empty, "train-images-idx3-ubyte")}, true},
		{"cifar10 missing", "cifar10", empty, "train", []string{
			filepath.Join(empty, "data_batch_5.bin"), filepath.Join(empty, "cifar-10-batches-bin", "data_batch_1.bin")}, true},
		{"cifar100 missing", "cifar100", empty, "test", []string{
			filepath.Join(empty, "test.bin"), filepath.Join(empty, "cifar-100-binary", "test.bin")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := data.Open(tc.set, tc.dir, tc.split)
			require.Error(t, err)
			assert.Nil(t, s)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Equal(t, tc.notExist, errors.Is(err, fs.ErrNotExist))
		})
	}
}

func TestOpenFiles(t *testing.T) {
	dir := t.TempDir()
	// MNIST-like files: raw for train, gzip'd for test.
	writeFile(t, dir, "mnist/train-images-idx3-ubyte", idxFile(0x803, []uint32{2, 28, 28}, ramp(2*784, 0)))
	writeFile(t, dir, "mnist/train-labels-idx1-ubyte", idxFile(0x801, []uint32{2}, []byte{5, 6}))
	writeFile(t, dir, "mnist/t10k-images-idx3-ubyte.gz", gzipped(t, idxFile(0x803, []uint32{1, 28, 28}, ramp(784, 0))))
	writeFile(t, dir, "mnist/t10k-labels-idx1-ubyte.gz", gzipped(t, idxFile(0x801, []uint32{1}, []byte{7})))
	// CIFAR-10 as the archive unpacks, in a subdirectory; record labels tell the files apart.
	for i, name := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"} {
		f, _ := cifarRecords([]byte{byte(i)})
		writeFile(t, dir, "c10/cifar-10-batches-bin/"+name, f)
	}
	// CIFAR-100 directly in its directory.
	f, _ := cifarRecords([]byte{1, 11}, []byte{2, 22})
	writeFile(t, dir, "c100/train.bin", f)

	for _, tc := range []struct {
		set, sub, split string
		labels          []uint8
		classes, c      int
	}{
		{"mnist", "mnist", "train", []uint8{5, 6}, 10, 1},
		{"fashion-mnist", "mnist", "test", []uint8{7}, 10, 1},
		{"cifar10", "c10", "train", []uint8{0, 1, 2, 3, 4}, 10, 3},
		{"cifar10", "c10", "test", []uint8{5}, 10, 3},
		{"cifar100", "c100", "train", []uint8{11, 22}, 100, 3},
	} {
		t.Run(tc.set+"/"+tc.split, func(t *testing.T) {
			s, err := data.Open(tc.set, filepath.Join(dir, tc.sub), tc.split)
			require.NoError(t, err)
			assert.Equal(t, tc.set+"/"+tc.split, s.Name)
			assert.Equal(t, tc.labels, s.Labels)
			assert.Equal(t, tc.classes, s.Classes())
			c, _, _ := s.Shape()
			assert.Equal(t, tc.c, c)
		})
	}
}

func TestOpenBuiltin(t *testing.T) {
	s, err := data.Open("builtin", "/ignored", "test")
	require.NoError(t, err)
	assert.Equal(t, "builtin/test", s.Name)
	assert.Equal(t, 1000, s.Len())
}
