package data

import (
	"fmt"
	"math"
	"math/rand"

	"gorgonia.org/tensor"
)

// Augment is the standard CIFAR augmentation of the ResNet paper (and torchvision's
// RandomCrop(size, padding=Pad) then RandomHorizontalFlip on the 0..1 pixels, before Normalize).
type Augment struct {
	// Pad is the zero (black) padding on each side before a random crop back to H×W, at offsets
	// uniform in [0, 2*Pad]² (the paper: 4); 0 = no crop.
	Pad  int
	Flip bool // horizontal flip with probability 1/2
}

// LoaderConfig says how a Loader makes batches.
type LoaderConfig struct {
	Batch   int
	Shuffle bool // a new seeded permutation each epoch; otherwise the order is 0..Len-1
	// DropLast drops the final partial batch (for training); otherwise it is padded with zero rows
	// and Batch.N says how many are real.
	DropLast bool
	Seed     int64 // of the permutations and the augmentation
	Augment  Augment
	// Mean and Std are per channel on the 0..1 scale (see ChannelStats); nil = no normalisation,
	// x = pix/255.
	Mean, Std []float64
	Dtype     tensor.Dtype // tensor.Float32 (the zero value means it) or tensor.Float64
}

// Batch is one batch of a Loader. It is reused: it stays valid until the following Iter.Next.
type Batch struct {
	X       *tensor.Dense // (Batch, C, H, W): (pix/255 − Mean[c]) / Std[c]; padding rows are zero
	Labels  []int         // len Batch; padding rows have label 0
	Indices []int         // dataset indices of the N real rows
	N       int           // number of real rows

	f32 []float32 // the backing of X, one of the two
	f64 []float64
}

// Loader turns a Dataset into batches of normalised, augmented tensors, deterministically: the
// order of epoch e depends only on (Seed, e), and the augmentation of the example at position p
// of epoch e only on (Seed, e, p), so a resumed run sees exactly the batches it would have seen.
type Loader struct {
	d       Dataset
	cfg     LoaderConfig
	c, h, w int
	n       int
	// lut maps a byte of each channel to its normalised value: a batch costs one lookup per
	// pixel. Only the one of cfg.Dtype is set.
	lut32 [][256]float32
	lut64 [][256]float64
	// spare keeps the two batch buffers of a finished Iter for the next epoch.
	spare chan [2]*Batch
}

// NewLoader checks cfg against d and prepares the conversion tables. It also checks every
// example's size and label once, so that making batches cannot fail later.
func NewLoader(d Dataset, cfg LoaderConfig) (*Loader, error) {
	if d == nil {
		return nil, fmt.Errorf("data: loader: no dataset")
	}
	c, h, w := d.Shape()
	n := d.Len()
	switch {
	case c < 1 || h < 1 || w < 1:
		return nil, fmt.Errorf("data: loader: images of %dx%dx%d: want positive sizes", c, h, w)
	case n < 1:
		return nil, fmt.Errorf("data: loader: the dataset is empty")
	case cfg.Batch < 1:
		return nil, fmt.Errorf("data: loader: batch size %d: want at least 1", cfg.Batch)
	case cfg.DropLast && n < cfg.Batch:
		return nil, fmt.Errorf("data: loader: dropping the last partial batch of %d examples in batches of %d leaves no batch", n, cfg.Batch)
	case cfg.Augment.Pad < 0:
		return nil, fmt.Errorf("data: loader: crop padding %d: want at least 0", cfg.Augment.Pad)
	}
	if cfg.Dtype == (tensor.Dtype{}) {
		cfg.Dtype = tensor.Float32
	}
	if cfg.Dtype != tensor.Float32 && cfg.Dtype != tensor.Float64 {
		return nil, fmt.Errorf("data: loader: dtype %v: want float32 or float64", cfg.Dtype)
	}
	mean, std, err := normalisation(cfg, c)
	if err != nil {
		return nil, err
	}
	if err := checkExamples(d); err != nil {
		return nil, err
	}
	l := &Loader{d: d, cfg: cfg, c: c, h: h, w: w, n: n, spare: make(chan [2]*Batch, 1)}
	if cfg.Dtype == tensor.Float64 {
		l.lut64 = make([][256]float64, c)
	} else {
		l.lut32 = make([][256]float32, c)
	}
	for ch := 0; ch < c; ch++ {
		for v := 0; v < 256; v++ {
			x := (float64(v)/255 - mean[ch]) / std[ch]
			if l.lut64 != nil {
				l.lut64[ch][v] = x
			} else {
				l.lut32[ch][v] = float32(x)
			}
		}
	}
	return l, nil
}

// normalisation returns cfg's mean and std, or 0 and 1 for each of c channels when they are nil.
func normalisation(cfg LoaderConfig, c int) (mean, std []float64, err error) {
	if cfg.Mean == nil && cfg.Std == nil {
		mean, std = make([]float64, c), make([]float64, c)
		for i := range std {
			std[i] = 1
		}
		return mean, std, nil
	}
	if len(cfg.Mean) != c || len(cfg.Std) != c {
		return nil, nil, fmt.Errorf("data: loader: %d means and %d standard deviations for %d channels", len(cfg.Mean), len(cfg.Std), c)
	}
	for i := 0; i < c; i++ {
		if m := cfg.Mean[i]; math.IsNaN(m) || math.IsInf(m, 0) {
			return nil, nil, fmt.Errorf("data: loader: mean %g of channel %d is not finite", m, i)
		}
		if s := cfg.Std[i]; !(s > 0) || math.IsInf(s, 0) {
			return nil, nil, fmt.Errorf("data: loader: standard deviation %g of channel %d: want a positive finite value", s, i)
		}
	}
	return cfg.Mean, cfg.Std, nil
}

// checkExamples checks that every image has C×H×W bytes and a label in [0, Classes).
func checkExamples(d Dataset) error {
	c, h, w := d.Shape()
	classes := d.Classes()
	for i := 0; i < d.Len(); i++ {
		pix, label := d.Image(i)
		if len(pix) != c*h*w {
			return fmt.Errorf("data: loader: example %d has %d bytes, want %dx%dx%d = %d", i, len(pix), c, h, w, c*h*w)
		}
		if label < 0 || label >= classes {
			return fmt.Errorf("data: loader: label %d of example %d is outside [0, %d)", label, i, classes)
		}
	}
	return nil
}

// Batches is the number of batches of an epoch.
func (l *Loader) Batches() int {
	if l.cfg.DropLast {
		return l.n / l.cfg.Batch
	}
	return (l.n + l.cfg.Batch - 1) / l.cfg.Batch
}

// order is the sequence of dataset indices of an epoch.
func (l *Loader) order(epoch int) []int {
	if l.cfg.Shuffle {
		return rand.New(rand.NewSource(l.cfg.Seed*1_000_003 + int64(epoch))).Perm(l.n)
	}
	o := make([]int, l.n)
	for i := range o {
		o[i] = i
	}
	return o
}

// buffers returns the two batch buffers of an Iter: those of a finished one when there are, new
// ones otherwise.
func (l *Loader) buffers() [2]*Batch {
	select {
	case b := <-l.spare:
		return b
	default:
		return [2]*Batch{l.newBatch(), l.newBatch()}
	}
}

// newBatch allocates a batch buffer.
func (l *Loader) newBatch() *Batch {
	bs := l.cfg.Batch
	b := &Batch{Labels: make([]int, bs), Indices: make([]int, 0, bs)}
	shape := tensor.WithShape(bs, l.c, l.h, l.w)
	size := bs * l.c * l.h * l.w
	if l.lut64 != nil {
		b.f64 = make([]float64, size)
		b.X = tensor.New(shape, tensor.WithBacking(b.f64))
	} else {
		b.f32 = make([]float32, size)
		b.X = tensor.New(shape, tensor.WithBacking(b.f32))
	}
	return b
}
