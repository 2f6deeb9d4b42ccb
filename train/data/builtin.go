package data

import (
	"embed"
	"fmt"
	"path"
)

// builtinFiles holds the Fashion-MNIST subset written by internal/mkbuiltin (see
// builtin/README.md): 3.8 MB of gzip'd IDX, so that tests and demos run without a download.
//
//go:embed builtin/*.gz
var builtinFiles embed.FS

// Builtin returns the embedded Fashion-MNIST subset: split "train" is the first 800 images of each
// class of the training file (8000), "test" the first 100 of each class of the test file (1000),
// both 1×28×28 in 10 classes, in file order. It decodes them on each call (tens of
// milliseconds), so that callers own what they get.
func Builtin(split string) (*Images, error) {
	if split != "train" && split != "test" {
		return nil, fmt.Errorf("data: builtin split %q: want train or test", split)
	}
	base := path.Join("builtin", "fashion-mnist-subset-"+split)
	ls, err := openBuiltin(base + "-labels-idx1-ubyte.gz")
	if err != nil {
		return nil, err
	}
	defer ls.Close()
	is, err := openBuiltin(base + "-images-idx3-ubyte.gz")
	if err != nil {
		return nil, err
	}
	defer is.Close()
	s, err := readIDXPair(is, ls)
	if err != nil {
		return nil, err
	}
	s.Name = "builtin/" + split
	return s, nil
}

// openBuiltin opens an embedded file.
func openBuiltin(name string) (*source, error) {
	f, err := builtinFiles.Open(name)
	if err != nil {
		return nil, fmt.Errorf("data: embedded %w", err)
	}
	s, err := newSource("embedded "+name, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.c = f
	return s, nil
}
