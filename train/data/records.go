package data

import "fmt"

// RecordFormats lists the valid formats of ReadRecords.
const RecordFormats = "idx, cifar10 or cifar100"

// ReadRecords reads the images of a file for prediction, checking that they are c×h×w as the
// model wants: format "idx" is an IDX images file (gzip'd or raw; c must be 1), whose labels are
// absent (-1); "cifar10" and "cifar100" are binary CIFAR records (3×32×32) with their labels
// (CIFAR-100's fine labels). It returns the N×C×H×W bytes and N labels.
func ReadRecords(path, format string, c, h, w int) ([]uint8, []int, error) {
	switch format {
	case "idx":
		src, err := openSource(path)
		if err != nil {
			return nil, nil, err
		}
		defer src.Close()
		pix, n, ih, iw, err := readIDXImages(src)
		if err != nil {
			return nil, nil, err
		}
		if err := sameShape(path, 1, ih, iw, c, h, w); err != nil {
			return nil, nil, err
		}
		labels := make([]int, n)
		for i := range labels {
			labels[i] = -1
		}
		return pix, labels, nil
	case "cifar10", "cifar100":
		if err := sameShape(path, 3, 32, 32, c, h, w); err != nil {
			return nil, nil, err
		}
		f := cifar10()
		if format == "cifar100" {
			f = cifar100(true)
		}
		s, err := readCIFAR(f, []string{path})
		if err != nil {
			return nil, nil, err
		}
		labels := make([]int, len(s.Labels))
		for i, l := range s.Labels {
			labels[i] = int(l)
		}
		return s.Pix, labels, nil
	}
	return nil, nil, fmt.Errorf("data: %s: unknown record format %q: want %s", path, format, RecordFormats)
}

// sameShape reports a file whose images are not the shape the model wants.
func sameShape(path string, c, h, w, wantC, wantH, wantW int) error {
	if c != wantC || h != wantH || w != wantW {
		return fmt.Errorf("data: %s: images are %dx%dx%d, the model wants %dx%dx%d", path, c, h, w, wantC, wantH, wantW)
	}
	return nil
}
