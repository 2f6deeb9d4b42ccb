package train

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/resnet"
	"github.com/resnet-go/resnet/train/checkpoint"
	"github.com/resnet-go/resnet/train/data"
)

// checkpointFormat names the layout of RunState and of the tensor names below; a checkpoint of
// another format is refused rather than misread.
const checkpointFormat = "resnet-go/train/1"

// velocityPrefix prefixes the SGD momentum buffers in a checkpoint; the model's own tensors keep
// their torchvision state_dict names.
const velocityPrefix = "optimizer.momentum_buffer."

// RunState is the metadata of a checkpoint: the run's configuration, the model it holds, the
// input normalisation it was trained with, and how far the run got.
type RunState struct {
	Format  string    `json:"format"`
	Config  Config    `json:"config"`
	Model   string    `json:"model"`
	Classes int       `json:"classes"`
	Input   [3]int    `json:"input"` // C, H, W
	Mean    []float64 `json:"mean,omitempty"`
	Std     []float64 `json:"std,omitempty"`
	Epoch   int       `json:"epoch"` // epochs completed
	Step    int       `json:"step"`  // optimiser steps completed
	WallSec float64   `json:"wall_s"`
	// With Config.WarmupUntilErr: the step after which the warm-up ended (0 while it runs) and
	// the training errors of the latest batches it watches, so a resumed run ends it where an
	// uninterrupted one does.
	WarmupEnd  int       `json:"warmup_end,omitempty"`
	WarmupErrs []float64 `json:"warmup_errors,omitempty"`
}

// Spec returns the model the checkpoint holds.
func (s RunState) Spec() (resnet.Spec, error) {
	return resnet.ByName(s.Model, s.Classes, s.Input[0])
}

// Dtype returns the element type of the checkpoint's tensors.
func (s RunState) Dtype() tensor.Dtype {
	if s.Config.Dtype == "float64" {
		return tensor.Float64
	}
	return tensor.Float32
}

// Checkpoint is a loaded checkpoint file.
type Checkpoint struct {
	Path  string
	State RunState
	file  *checkpoint.File
}

// SaveCheckpoint writes the parameters and buffers of p, the momentum buffers of opt (when not
// nil) and st to path atomically: a crash leaves either the previous file or the new one.
func SaveCheckpoint(path string, st RunState, p *graph.Params, opt *SGD) error {
	st.Format = checkpointFormat
	meta, err := json.Marshal(st)
	if err != nil {
		return err
	}
	f := &checkpoint.File{Meta: meta}
	for _, e := range p.All() {
		f.Tensors = append(f.Tensors, toTensor(e.Name, e.Value))
	}
	if opt != nil {
		for _, e := range p.Trainable() {
			if v, ok := opt.Velocity(e.Name); ok {
				f.Tensors = append(f.Tensors, toTensor(velocityPrefix+e.Name, v))
			}
		}
	}
	return checkpoint.Save(path, f)
}

func toTensor(name string, v *tensor.Dense) checkpoint.Tensor {
	t := checkpoint.Tensor{Name: name, Shape: v.Shape().Clone()}
	switch d := v.Data().(type) {
	case []float32:
		t.Dtype, t.F32 = "float32", d
	case []float64:
		t.Dtype, t.F64 = "float64", d
	}
	return t
}

// LoadCheckpoint reads and checks a checkpoint written by SaveCheckpoint; path is the file or the
// run directory holding it (CheckpointFile).
func LoadCheckpoint(path string) (*Checkpoint, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, CheckpointFile)
	}
	f, err := checkpoint.Load(path)
	if err != nil {
		return nil, err
	}
	var st RunState
	if err := json.Unmarshal(f.Meta, &st); err != nil {
		return nil, fmt.Errorf("checkpoint %s: metadata: %w", path, err)
	}
	if st.Format != checkpointFormat {
		return nil, fmt.Errorf("checkpoint %s: format %q, this trainer reads %q", path, st.Format, checkpointFormat)
	}
	if err := st.check(f); err != nil {
		return nil, fmt.Errorf("checkpoint %s: metadata: %w", path, err)
	}
	return &Checkpoint{Path: path, State: st, file: f}, nil
}

// MaxInputSide bounds the image sides a checkpoint may declare: far above any data set this
// trainer reads, far below what would exhaust memory when a model is built for it.
const MaxInputSide = 4096

// check validates the metadata against the tensors it describes, before anything is built from
// it: the model's free numbers (classes, input channels, depth) must be those of the tensors,
// which the file's data back, so a forged header cannot make a loader build a huge graph.
func (s RunState) check(f *checkpoint.File) error {
	// Weights without a run (trainer import) have no training settings to check.
	if weightsOnly := s.Config.Epochs == 0 && s.Epoch == 0; !weightsOnly {
		if err := s.Config.Validate(); err != nil {
			return fmt.Errorf("its settings: %w", err)
		}
	}
	spec, err := s.Spec()
	if err != nil {
		return err
	}
	shape := func(name string) []int {
		if t, ok := f.Get(name); ok {
			return t.Shape
		}
		return nil
	}
	if w := shape("fc.weight"); len(w) != 2 || w[0] != s.Classes {
		return fmt.Errorf("%d classes, but fc.weight has shape %v", s.Classes, w)
	}
	if w := shape("conv1.weight"); len(w) != 4 || w[1] != s.Input[0] {
		return fmt.Errorf("%d input channels, but conv1.weight has shape %v", s.Input[0], w)
	}
	stages := len(spec.Blocks)
	last := fmt.Sprintf("layer%d.%d.conv1.weight", stages, spec.Blocks[stages-1]-1)
	if shape(last) == nil {
		return fmt.Errorf("model %s, but the checkpoint has no %s", s.Model, last)
	}
	if lo, h, w := spec.MinInput(), s.Input[1], s.Input[2]; h < lo || w < lo || h > MaxInputSide || w > MaxInputSide {
		return fmt.Errorf("input %d×%d: %s takes sides from %d to %d", h, w, s.Model, lo, MaxInputSide)
	}
	if s.Mean != nil || s.Std != nil {
		if len(s.Mean) != s.Input[0] || len(s.Std) != s.Input[0] {
			return fmt.Errorf("normalisation of %d means and %d stds for %d channels", len(s.Mean), len(s.Std), s.Input[0])
		}
		for i := range s.Mean {
			if math.IsNaN(s.Mean[i]) || math.IsInf(s.Mean[i], 0) || !(s.Std[i] > 0) || math.IsInf(s.Std[i], 0) {
				return fmt.Errorf("channel %d: mean %g and std %g: want finite values and std > 0", i, s.Mean[i], s.Std[i])
			}
		}
	}
	switch {
	case s.Epoch < 0 || s.Epoch > s.Config.Epochs:
		return fmt.Errorf("epoch %d of a run of %d", s.Epoch, s.Config.Epochs)
	case s.Step < 0:
		return fmt.Errorf("step %d", s.Step)
	case !(s.WallSec >= 0) || math.IsInf(s.WallSec, 0):
		return fmt.Errorf("wall time %g s", s.WallSec)
	case s.WarmupEnd < 0 || s.WarmupEnd > s.Step:
		return fmt.Errorf("warm-up ended after step %d of %d", s.WarmupEnd, s.Step)
	case len(s.WarmupErrs) > WarmupWindow:
		return fmt.Errorf("%d warm-up batch errors: want at most %d", len(s.WarmupErrs), WarmupWindow)
	}
	for _, e := range s.WarmupErrs {
		if !(e >= 0 && e <= 1) {
			return fmt.Errorf("warm-up batch error %g: want 0 to 1", e)
		}
	}
	return nil
}

// Save writes the checkpoint to path, atomically: its state and tensors as they were loaded.
// OpenWeights and SaveCheckpoint's files both go through it unchanged.
func (c *Checkpoint) Save(path string) error {
	st := c.State
	st.Format = checkpointFormat
	meta, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return checkpoint.Save(path, &checkpoint.File{Meta: meta, Tensors: c.file.Tensors})
}

// Restore copies the checkpoint's tensors into p, and its momentum buffers into opt when opt is
// not nil. p must hold exactly the checkpoint's model: every tensor by name, shape and dtype.
func (c *Checkpoint) Restore(p *graph.Params, opt *SGD) error {
	want := 0
	for _, e := range p.All() {
		t, ok := c.file.Get(e.Name)
		if !ok {
			return fmt.Errorf("checkpoint %s (%s) has no %s: it holds another model", c.Path, c.State.Model, e.Name)
		}
		if err := copyInto(e.Value, t); err != nil {
			return fmt.Errorf("checkpoint %s: %w", c.Path, err)
		}
		want++
	}
	if opt != nil {
		for _, e := range p.Trainable() {
			t, ok := c.file.Get(velocityPrefix + e.Name)
			if !ok {
				continue // never updated
			}
			v := tensor.New(tensor.Of(e.Value.Dtype()), tensor.WithShape(e.Value.Shape().Clone()...))
			if err := copyInto(v, t); err != nil {
				return fmt.Errorf("checkpoint %s: %w", c.Path, err)
			}
			opt.SetVelocity(e.Name, v)
			want++
		}
	}
	for _, t := range c.file.Tensors {
		if _, ok := p.Get(strings.TrimPrefix(t.Name, velocityPrefix)); !ok {
			return fmt.Errorf("checkpoint %s has %s, which model %s lacks", c.Path, t.Name, c.State.Model)
		}
	}
	if opt != nil && want != len(c.file.Tensors) {
		return fmt.Errorf("checkpoint %s: %d tensors, %d used", c.Path, len(c.file.Tensors), want)
	}
	return nil
}

func copyInto(dst *tensor.Dense, t *checkpoint.Tensor) error {
	if !dst.Shape().Eq(tensor.Shape(t.Shape)) {
		return fmt.Errorf("%s has shape %v, the model wants %v", t.Name, t.Shape, dst.Shape())
	}
	switch d := dst.Data().(type) {
	case []float32:
		if t.Dtype != "float32" {
			return fmt.Errorf("%s is %s, the model is float32", t.Name, t.Dtype)
		}
		copy(d, t.F32)
	case []float64:
		if t.Dtype != "float64" {
			return fmt.Errorf("%s is %s, the model is float64", t.Name, t.Dtype)
		}
		copy(d, t.F64)
	}
	return nil
}

// Evaluator builds the checkpoint's model in evaluation mode, for batches of the given size, over
// a new parameter store holding the checkpoint's tensors.
func (c *Checkpoint) Evaluator(batch int) (*Evaluator, error) {
	spec, err := c.State.Spec()
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", c.Path, err)
	}
	p, err := graph.NewParams(c.State.Dtype(), 0)
	if err != nil {
		return nil, err
	}
	ev, err := NewEvaluator(spec, p, batch, c.State.Input[1], c.State.Input[2])
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", c.Path, err)
	}
	if err := c.Restore(p, nil); err != nil {
		ev.Close()
		return nil, err
	}
	return ev, nil
}

// Fits reports whether images of d can be fed to the checkpoint's model: same image shape and
// same number of classes.
func (c *Checkpoint) Fits(d interface {
	Shape() (c, h, w int)
	Classes() int
}) error {
	ch, h, w := d.Shape()
	in := c.State.Input
	if ch != in[0] || h != in[1] || w != in[2] || d.Classes() != c.State.Classes {
		return fmt.Errorf("the data are %d×%d×%d images of %d classes; checkpoint %s holds %s for %d×%d×%d images of %d classes",
			ch, h, w, d.Classes(), c.Path, c.State.Model, in[0], in[1], in[2], c.State.Classes)
	}
	return nil
}

// Loader batches d for the checkpoint's model: in order, normalised as in training, in its dtype.
func (c *Checkpoint) Loader(d data.Dataset, batch int) (*data.Loader, error) {
	return data.NewLoader(d, data.LoaderConfig{Batch: batch, Mean: c.State.Mean, Std: c.State.Std, Dtype: c.State.Dtype()})
}
