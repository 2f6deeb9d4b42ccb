package data

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"path/filepath"

	"github.com/resnet-go/resnet/train/internal/bounds"
)

// IDX magic numbers: two zero bytes, element type 0x08 (unsigned byte), number of dimensions.
const (
	idxImagesMagic = 0x00000803
	idxLabelsMagic = 0x00000801
	idxClasses     = 10
	// maxBytes bounds what a header may announce (1 TiB, or what an int holds), so that sizes
	// never overflow.
	maxBytes = min(1<<40, math.MaxInt)
	// maxSide bounds the image sides an IDX header may announce: 4096, as train.MaxInputSide (the
	// largest input a checkpoint may declare, which this package cannot import), far above any
	// data set in the format (MNIST's are 28×28). The sides are bounded on their own, not only
	// through the size, because a few KB of gzip can announce one image of 1×4000000, well within
	// maxBytes, whose network would exhaust memory when built.
	maxSide = 4096
)

// ReadIDX reads an MNIST or Fashion-MNIST pair of IDX files, each gzip'd or raw: images
// (magic 0x00000803, N×H×W unsigned bytes) and labels (magic 0x00000801, N bytes in [0, 10)).
// The set has one channel and 10 classes; its Name is the base name of imagesPath.
func ReadIDX(imagesPath, labelsPath string) (*Images, error) {
	ls, err := openSource(labelsPath)
	if err != nil {
		return nil, err
	}
	defer ls.Close()
	is, err := openSource(imagesPath)
	if err != nil {
		return nil, err
	}
	defer is.Close()
	s, err := readIDXPair(is, ls)
	if err != nil {
		return nil, err
	}
	s.Name = filepath.Base(imagesPath)
	return s, nil
}

// readIDXPair reads an images and a labels IDX file that must describe the same examples.
func readIDXPair(images, labels *source) (*Images, error) {
	lbl, err := readIDXLabels(labels, idxClasses)
	if err != nil {
		return nil, err
	}
	pix, n, h, w, err := readIDXImages(images)
	if err != nil {
		return nil, err
	}
	if n != len(lbl) {
		return nil, fmt.Errorf("data: %s has %d images but %s has %d labels", images.path, n, labels.path, len(lbl))
	}
	return &Images{C: 1, H: h, W: w, NumClasses: idxClasses, Pix: pix, Labels: lbl}, nil
}

// readIDXImages reads a 3-D IDX file of N images of H×W bytes.
func readIDXImages(src *source) (pix []uint8, n, h, w int, err error) {
	dims, err := readIDXHeader(src, idxImagesMagic, "images")
	if err != nil {
		return nil, 0, 0, 0, err
	}
	n, h, w = dims[0], dims[1], dims[2]
	switch {
	case n == 0:
		return nil, 0, 0, 0, fmt.Errorf("data: %s: the IDX header announces no images", src.path)
	case h == 0 || w == 0:
		return nil, 0, 0, 0, fmt.Errorf("data: %s: the IDX header announces images of %dx%d", src.path, h, w)
	case h > maxSide || w > maxSide:
		return nil, 0, 0, 0, fmt.Errorf("data: %s: the IDX header announces %d images of %dx%d: sides are at most %d", src.path, n, h, w, maxSide)
	}
	size, err := bounds.Product(maxBytes, n, h, w)
	if err != nil {
		return nil, 0, 0, 0, fmt.Errorf("data: %s: the IDX header announces %d images of %dx%d: %w bytes", src.path, n, h, w, err)
	}
	pix, err = readExact(src.r, size)
	if truncated(err) {
		return nil, 0, 0, 0, fmt.Errorf("data: %s: truncated: %d images of %dx%d need %d bytes of pixels, the file has %d", src.path, n, h, w, size, len(pix))
	}
	if err == nil {
		err = checkEnd(src, fmt.Sprintf("%d images of %dx%d", n, h, w))
	}
	if err != nil {
		return nil, 0, 0, 0, fmt.Errorf("data: %s: %w", src.path, err)
	}
	return pix, n, h, w, nil
}

// readIDXLabels reads a 1-D IDX file of N labels in [0, classes).
func readIDXLabels(src *source, classes int) ([]uint8, error) {
	dims, err := readIDXHeader(src, idxLabelsMagic, "labels")
	if err != nil {
		return nil, err
	}
	n, err := bounds.Product(maxBytes, dims[0])
	switch {
	case err != nil:
		return nil, fmt.Errorf("data: %s: the IDX header announces %d labels: %w bytes", src.path, dims[0], err)
	case n == 0:
		return nil, fmt.Errorf("data: %s: the IDX header announces no labels", src.path)
	}
	lbl, err := readExact(src.r, n)
	if truncated(err) {
		return nil, fmt.Errorf("data: %s: truncated: the header announces %d labels, the file has %d", src.path, n, len(lbl))
	}
	if err == nil {
		err = checkEnd(src, fmt.Sprintf("%d labels", n))
	}
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", src.path, err)
	}
	for i, l := range lbl {
		if int(l) >= classes {
			return nil, fmt.Errorf("data: %s: label %d of record %d is outside [0, %d)", src.path, l, i, classes)
		}
	}
	return lbl, nil
}

// readIDXHeader reads the magic number and the dimensions of an unsigned-byte IDX file whose
// magic should be want; what ("images", "labels") names the expected content in messages.
func readIDXHeader(src *source, want uint32, what string) ([]int, error) {
	var magic [4]byte
	if _, err := io.ReadFull(src.r, magic[:]); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("data: %s: empty file, want an IDX %s file", src.path, what)
		}
		if truncated(err) {
			return nil, fmt.Errorf("data: %s: truncated in the IDX magic number", src.path)
		}
		return nil, fmt.Errorf("data: %s: %w", src.path, err)
	}
	got := binary.BigEndian.Uint32(magic[:])
	ndim := int(want & 0xff)
	switch {
	case magic[0] != 0 || magic[1] != 0:
		return nil, fmt.Errorf("data: %s: not an IDX file: magic number 0x%08x, want 0x%08x (%s)", src.path, got, want, what)
	case magic[2] != 0x08:
		return nil, fmt.Errorf("data: %s: IDX element type 0x%02x, want 0x08 (unsigned bytes)", src.path, magic[2])
	case int(magic[3]) != ndim:
		return nil, fmt.Errorf("data: %s: IDX file of %d dimensions (magic 0x%08x), want %d for %s (magic 0x%08x)", src.path, magic[3], got, ndim, what, want)
	}
	raw := make([]byte, 4*ndim)
	if _, err := io.ReadFull(src.r, raw); err != nil {
		if truncated(err) {
			return nil, fmt.Errorf("data: %s: truncated in the IDX header (%d dimensions)", src.path, ndim)
		}
		return nil, fmt.Errorf("data: %s: %w", src.path, err)
	}
	dims := make([]int, ndim)
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(raw[4*i:]))
	}
	return dims, nil
}

// checkEnd reports data after what the header announced, which means the header is wrong.
func checkEnd(src *source, announced string) error {
	end, err := atEnd(src.r)
	if err != nil {
		return err
	}
	if !end {
		return fmt.Errorf("data after the %s that the header announces", announced)
	}
	return nil
}
