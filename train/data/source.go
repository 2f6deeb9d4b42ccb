package data

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/resnet-go/resnet/train/internal/bounds"
)

// source is an opened input, transparently decompressed when it starts with the gzip magic
// 1f 8b, so that every reader takes both the .gz files as distributed and unpacked ones.
type source struct {
	path string // for messages
	r    io.Reader
	c    io.Closer // the file, or nil
	z    *gzip.Reader
}

// openSource opens the file at path.
func openSource(path string) (*source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	s, err := newSource(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.c = f
	return s, nil
}

// newSource reads r, named path in messages; the caller closes r.
func newSource(path string, r io.Reader) (*source, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	s := &source{path: path, r: br}
	// A short or failing Peek is left to the first read, which reports it in context.
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("data: %s: gzip: %w", path, err)
		}
		s.r, s.z = z, z
	}
	return s, nil
}

// Close closes the decompressor and the file.
func (s *source) Close() error {
	var err error
	if s.z != nil {
		err = s.z.Close()
	}
	if s.c != nil {
		err = errors.Join(err, s.c.Close())
	}
	return err
}

// readExact reads n bytes, growing its buffer (from bounds.MaxUnbacked, doubling) as data
// arrives, so that a corrupt header announcing terabytes costs a truncation error rather than the
// allocation. On a short input it returns what it got with io.EOF or io.ErrUnexpectedEOF.
func readExact(r io.Reader, n int) ([]byte, error) {
	return readGrowing(r, n, bounds.MaxUnbacked)
}

// readGrowing is readExact starting from a buffer of first bytes.
func readGrowing(r io.Reader, n, first int) ([]byte, error) {
	buf := make([]byte, 0, min(n, first))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(n, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
		}
		m, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil {
			if err == io.EOF && len(buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
	return buf, nil
}

// atEnd reports whether r has nothing left; reading to the end also makes gzip verify its
// checksum.
func atEnd(r io.Reader) (bool, error) {
	var b [1]byte
	_, err := io.ReadFull(r, b[:])
	switch err {
	case io.EOF:
		return true, nil
	case nil:
		return false, nil
	}
	return false, err
}

// truncated tells a short read from a failing one.
func truncated(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
