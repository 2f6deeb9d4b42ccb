package data

// Dataset is a labelled image set.
type Dataset interface {
	// Len is the number of examples.
	Len() int
	// Shape is that of one image: channels, height, width.
	Shape() (c, h, w int)
	// Classes is the number of classes; labels are in [0, Classes).
	Classes() int
	// Image returns example i as CHW bytes, 0..255, and its label. The slice may alias internal
	// storage: callers must not modify it.
	Image(i int) (pix []uint8, label int)
}

// Images is an in-memory Dataset, what every reader returns. Keeping bytes rather than floats
// keeps a set four times smaller than float32; a Loader converts per batch.
type Images struct {
	Name       string // e.g. "fashion-mnist/train", for messages and logs
	C, H, W    int
	NumClasses int
	Pix        []uint8 // N*C*H*W, CHW per image
	Labels     []uint8 // N
}

var _ Dataset = (*Images)(nil)

// Len is the number of examples.
func (s *Images) Len() int { return len(s.Labels) }

// Shape is that of one image.
func (s *Images) Shape() (c, h, w int) { return s.C, s.H, s.W }

// Classes is the number of classes.
func (s *Images) Classes() int { return s.NumClasses }

// Image returns example i; the slice aliases s.Pix (with its capacity cut, so that an append by
// the caller cannot overwrite the next image). It panics when i is out of range, as slice
// indexing does.
func (s *Images) Image(i int) (pix []uint8, label int) {
	n := s.C * s.H * s.W
	return s.Pix[i*n : (i+1)*n : (i+1)*n], int(s.Labels[i])
}

// Subset copies the examples idx, in that order, into a new set (so that it does not pin the
// memory of s). It panics when an index is out of range, as slice indexing does: indices are the
// caller's, not input data.
func (s *Images) Subset(idx []int) *Images {
	n := s.C * s.H * s.W
	out := &Images{
		Name: s.Name, C: s.C, H: s.H, W: s.W, NumClasses: s.NumClasses,
		Pix:    make([]uint8, len(idx)*n),
		Labels: make([]uint8, len(idx)),
	}
	for j, i := range idx {
		copy(out.Pix[j*n:(j+1)*n], s.Pix[i*n:(i+1)*n])
		out.Labels[j] = s.Labels[i]
	}
	return out
}
