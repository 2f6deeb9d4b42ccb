package data

import (
	"fmt"
	"io"
	"os"

	"github.com/resnet-go/resnet/train/internal/bounds"
)

const (
	// cifarPixels is one CIFAR image: R, G and B planes of 32×32.
	cifarPixels = 3 * 32 * 32
	// cifarReserve bounds the pixel bytes reserved from file sizes (256 MiB): above the 150 MB of
	// CIFAR-10's or CIFAR-100's training set, so that they are read without a copy; beyond it the
	// slices grow as records arrive.
	cifarReserve = 256 << 20
)

// cifarFormat describes a binary CIFAR variant: its label bytes, the classes of each, and which
// one labels the set.
type cifarFormat struct {
	name   string   // for messages: "CIFAR-10"
	labels []string // names of the label bytes, for messages: "label", or "coarse label", "fine label"
	limits []int    // number of classes of each label byte
	use    int      // the label byte that labels the set
}

// cifar10 is the format of CIFAR-10 binary files.
func cifar10() cifarFormat {
	return cifarFormat{name: "CIFAR-10", labels: []string{"label"}, limits: []int{10}}
}

// cifar100 is the format of CIFAR-100 binary files, labelled by the fine or the coarse classes.
func cifar100(fine bool) cifarFormat {
	f := cifarFormat{name: "CIFAR-100", labels: []string{"coarse label", "fine label"}, limits: []int{20, 100}}
	if fine {
		f.use = 1
	}
	return f
}

// ReadCIFAR10 reads the binary version of CIFAR-10 (data_batch_1.bin … test_batch.bin): records
// of one label byte in [0, 10) and 3072 pixel bytes (R, G, B planes of 32×32). The files are
// concatenated in the order given; each may be gzip'd.
func ReadCIFAR10(paths ...string) (*Images, error) {
	return readCIFAR(cifar10(), paths)
}

// ReadCIFAR100 reads the binary version of CIFAR-100 (train.bin, test.bin): records of a coarse
// label byte in [0, 20), a fine label byte in [0, 100) and 3072 pixel bytes. fine chooses the
// 100 fine classes, otherwise the 20 coarse ones label the set.
func ReadCIFAR100(fine bool, paths ...string) (*Images, error) {
	return readCIFAR(cifar100(fine), paths)
}

// readCIFAR concatenates the records of the files at paths.
func readCIFAR(f cifarFormat, paths []string) (*Images, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("data: reading %s: no files given", f.name)
	}
	rec := len(f.limits) + cifarPixels
	// Reserve what raw files need, so that CIFAR-10's 150 MB are not copied while growing. Only up
	// to cifarReserve: the reservation is made before a record has been read, and a file (sparse,
	// say) may be larger than its first bad label lets the reader go.
	var records int64
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			records = min(records+st.Size()/int64(rec), maxBytes)
		}
	}
	s := &Images{Name: f.name, C: 3, H: 32, W: 32, NumClasses: f.limits[f.use]}
	if pix, err := bounds.Product(cifarReserve, int(records), cifarPixels); err == nil && pix > 0 {
		s.Pix = make([]uint8, 0, pix)
		s.Labels = make([]uint8, 0, int(records))
	}
	for _, p := range paths {
		if err := s.appendCIFAR(f, p); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// appendCIFAR appends the records of the file at path to s.
func (s *Images) appendCIFAR(f cifarFormat, path string) error {
	src, err := openSource(path)
	if err != nil {
		return err
	}
	defer src.Close()
	return s.readCIFARRecords(f, src)
}

// readCIFARRecords appends the records of src to s.
func (s *Images) readCIFARRecords(f cifarFormat, src *source) error {
	nl := len(f.limits)
	buf := make([]byte, nl+cifarPixels)
	for i := 0; ; i++ {
		n, err := io.ReadFull(src.r, buf)
		switch {
		case err == io.EOF && i == 0:
			return fmt.Errorf("data: %s: empty file, want %s records of %d bytes", src.path, f.name, len(buf))
		case err == io.EOF:
			return nil
		case truncated(err):
			return fmt.Errorf("data: %s: record %d is truncated: %d of %d bytes", src.path, i, n, len(buf))
		case err != nil:
			return fmt.Errorf("data: %s: record %d: %w", src.path, i, err)
		}
		for j, limit := range f.limits {
			if int(buf[j]) >= limit {
				return fmt.Errorf("data: %s: %s %d of record %d is outside [0, %d)", src.path, f.labels[j], buf[j], i, limit)
			}
		}
		s.Labels = append(s.Labels, buf[f.use])
		s.Pix = append(s.Pix, buf[nl:]...)
	}
}
