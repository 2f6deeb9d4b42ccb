// Command mkbuiltin writes the Fashion-MNIST subset that package data embeds: the first 800
// images of each class of the training file (8000, in file order) and the first 100 of each class
// of the test file (1000), as gzip'd IDX files in train/data/builtin/. It reads the Debian
// package's files (apt-get install dataset-fashion-mnist). Run it from the module root:
//
//	go run ./train/data/internal/mkbuiltin
//
// It does not use package data, which cannot compile before the files it embeds exist.
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

const classes = 10

func main() {
	src := flag.String("src", "/usr/share/datasets/fashion-mnist", "directory of the Fashion-MNIST .gz files")
	dst := flag.String("dst", "train/data/builtin", "output directory")
	flag.Parse()
	for _, s := range []struct {
		in, out  string
		perClass int
	}{{"train", "train", 800}, {"t10k", "test", 100}} {
		if err := subset(*src, *dst, s.in, s.out, s.perClass); err != nil {
			fmt.Fprintln(os.Stderr, "mkbuiltin:", err)
			os.Exit(1)
		}
	}
}

// subset keeps the first perClass images of each class of one split, in file order.
func subset(src, dst, in, out string, perClass int) error {
	imgPath := filepath.Join(src, in+"-images-idx3-ubyte.gz")
	lblPath := filepath.Join(src, in+"-labels-idx1-ubyte.gz")
	pix, h, w, err := readIDX(imgPath, 3)
	if err != nil {
		return err
	}
	labels, _, _, err := readIDX(lblPath, 1)
	if err != nil {
		return err
	}
	if len(pix) != len(labels)*h*w {
		return fmt.Errorf("%s has %d images, %s %d labels", imgPath, len(pix)/(h*w), lblPath, len(labels))
	}
	var count [classes]int
	var keptPix, keptLabels []byte
	for i, l := range labels {
		if int(l) >= classes {
			return fmt.Errorf("%s: label %d of record %d is outside [0, %d)", lblPath, l, i, classes)
		}
		if count[l] < perClass {
			count[l]++
			keptLabels = append(keptLabels, l)
			keptPix = append(keptPix, pix[i*h*w:(i+1)*h*w]...)
		}
	}
	for c, n := range count {
		if n != perClass {
			return fmt.Errorf("%s: class %d has %d images, want %d", lblPath, c, n, perClass)
		}
	}
	base := filepath.Join(dst, "fashion-mnist-subset-"+out)
	if err := writeIDX(base+"-images-idx3-ubyte.gz", 0x803, []int{len(keptLabels), h, w}, keptPix); err != nil {
		return err
	}
	return writeIDX(base+"-labels-idx1-ubyte.gz", 0x801, []int{len(keptLabels)}, keptLabels)
}

// readIDX reads a gzip'd unsigned-byte IDX file of ndim dimensions.
func readIDX(path string, ndim int) (data []byte, h, w int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.Close()
	z, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	hdr := make([]uint32, 1+ndim)
	if err := binary.Read(z, binary.BigEndian, hdr); err != nil {
		return nil, 0, 0, fmt.Errorf("%s: header: %w", path, err)
	}
	if want := uint32(0x800 + ndim); hdr[0] != want {
		return nil, 0, 0, fmt.Errorf("%s: magic 0x%08x, want 0x%08x", path, hdr[0], want)
	}
	size := 1
	for _, d := range hdr[1:] {
		size *= int(d)
	}
	data = make([]byte, size)
	if _, err := io.ReadFull(z, data); err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	h, w = 1, 1
	if ndim == 3 {
		h, w = int(hdr[2]), int(hdr[3])
	}
	return data, h, w, nil
}

// writeIDX writes an unsigned-byte IDX file, gzip'd at the best compression. The gzip header
// carries no name or time, so the output depends only on the data.
func writeIDX(path string, magic uint32, dims []int, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	z, err := gzip.NewWriterLevel(f, gzip.BestCompression)
	if err != nil {
		f.Close()
		return err
	}
	hdr := []uint32{magic}
	for _, d := range dims {
		hdr = append(hdr, uint32(d))
	}
	err = binary.Write(z, binary.BigEndian, hdr)
	if err == nil {
		_, err = z.Write(data)
	}
	if cerr := z.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fmt.Printf("%s: %v\n", path, dims)
	return nil
}
