package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Names lists the valid names of Open.
const Names = "fashion-mnist, mnist, cifar10, cifar100, synthetic, builtin"

// DebianFashionMNIST is where the Debian package dataset-fashion-mnist installs its files: Open's
// directory for fashion-mnist when none is given.
const DebianFashionMNIST = "/usr/share/datasets/fashion-mnist"

// Open reads split ("train" or "test") of the set called name (one of Names) from dir:
//
//   - fashion-mnist, mnist: train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz], or
//     t10k-… for test. For fashion-mnist, dir "" means DebianFashionMNIST.
//   - cifar10: data_batch_1.bin … data_batch_5.bin, or test_batch.bin, in dir or in its
//     cifar-10-batches-bin subdirectory (as the archive unpacks).
//   - cifar100: train.bin or test.bin (fine labels, 100 classes), in dir or cifar-100-binary.
//   - synthetic: Synthetic sets of 2000 (train) or 500 (test) images of 1×28×28 in 10 classes,
//     with fixed seeds: the two splits share their class patterns but not their examples.
//   - builtin: Builtin(split), the embedded Fashion-MNIST subset; dir is ignored.
//
// The set's Name is name/split. Missing files give an error naming the paths looked at (and
// wrapping fs.ErrNotExist).
func Open(name, dir, split string) (*Images, error) {
	if split != "train" && split != "test" {
		return nil, fmt.Errorf("data: %s split %q: want train or test", name, split)
	}
	var s *Images
	var err error
	switch name {
	case "fashion-mnist", "mnist":
		s, err = openIDX(name, dir, split)
	case "cifar10":
		var paths []string
		if paths, err = findCIFAR(name, dir, "cifar-10-batches-bin", cifar10Files(split)); err == nil {
			s, err = ReadCIFAR10(paths...)
		}
	case "cifar100":
		var paths []string
		if paths, err = findCIFAR(name, dir, "cifar-100-binary", []string{split + ".bin"}); err == nil {
			s, err = ReadCIFAR100(true, paths...)
		}
	case "synthetic":
		s, err = openSynthetic(split)
	case "builtin":
		s, err = Builtin(split)
	default:
		return nil, fmt.Errorf("data: unknown data set %q: want one of %s", name, Names)
	}
	if err != nil {
		return nil, err
	}
	s.Name = name + "/" + split
	return s, nil
}

// openSynthetic: one pattern seed for both splits, one example seed each.
func openSynthetic(split string) (*Images, error) {
	const patternSeed = 1
	if split == "train" {
		return synthetic(2000, 1, 28, 28, 10, patternSeed, 2)
	}
	return synthetic(500, 1, 28, 28, 10, patternSeed, 3)
}

// openIDX finds and reads the IDX pair of an MNIST-like set, gzip'd or not.
func openIDX(name, dir, split string) (*Images, error) {
	hint := ""
	if name == "fashion-mnist" {
		hint = " (on Debian: apt-get install dataset-fashion-mnist, which installs them in " + DebianFashionMNIST + ")"
		if dir == "" {
			dir = DebianFashionMNIST
		}
	}
	if dir == "" {
		return nil, fmt.Errorf("data: %s needs the directory of its IDX files (-data-dir)", name)
	}
	prefix := split
	if split == "test" {
		prefix = "t10k"
	}
	var found [2]string
	var looked []string
	var missing error
	for i, kind := range []string{"images-idx3-ubyte", "labels-idx1-ubyte"} {
		raw := filepath.Join(dir, prefix+"-"+kind)
		for _, p := range []string{raw + ".gz", raw} {
			if exists(p) {
				found[i] = p
				break
			}
		}
		if found[i] == "" {
			looked = append(looked, raw+".gz", raw)
			missing = fs.ErrNotExist
		}
	}
	if missing != nil {
		return nil, fmt.Errorf("data: %s %s files not found: looked for %s%s: %w", name, split, strings.Join(looked, ", "), hint, missing)
	}
	return ReadIDX(found[0], found[1])
}

// cifar10Files are the batch files of a CIFAR-10 split.
func cifar10Files(split string) []string {
	if split == "test" {
		return []string{"test_batch.bin"}
	}
	return []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
}

// findCIFAR looks for all of files in dir, then in dir/sub.
func findCIFAR(name, dir, sub string, files []string) ([]string, error) {
	if dir == "" {
		return nil, fmt.Errorf("data: %s needs the directory of its binary files (-data-dir)", name)
	}
	var looked []string
	for _, d := range []string{dir, filepath.Join(dir, sub)} {
		paths := make([]string, len(files))
		all := true
		for i, f := range files {
			paths[i] = filepath.Join(d, f)
			if !exists(paths[i]) {
				all = false
				looked = append(looked, paths[i])
			}
		}
		if all {
			return paths, nil
		}
	}
	return nil, fmt.Errorf("data: %s files not found: missing %s: %w", name, strings.Join(looked, ", "), fs.ErrNotExist)
}

// exists reports whether path can be stat'ed; other stat errors surface when the file is read.
func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
