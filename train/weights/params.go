package weights

import (
	"fmt"
	"slices"
	"strings"

	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
)

// batchesTracked is the suffix of the BatchNorm counter torchvision keeps beside its running
// statistics. This project's BatchNorm uses a fixed momentum, so it needs no counter: FromParams
// writes one for PyTorch's strict loading and Load ignores it.
const batchesTracked = "num_batches_tracked"

// FromParams returns the parameters and buffers of p as a File in state_dict order, F32 or F64 as
// p's dtype (the tensors share p's memory). After each BatchNorm's running_var it adds the 0-d
// I64 num_batches_tracked with the value batches, so that PyTorch's strict load_state_dict takes
// the file as it takes torchvision's own.
func FromParams(p *graph.Params, batches int64) *File {
	f := &File{}
	for _, e := range p.All() {
		t := Tensor{Name: e.Name, Shape: append([]int{}, e.Value.Shape()...)}
		switch d := e.Value.Data().(type) {
		case []float32:
			t.Dtype, t.F32 = F32, d
		case []float64:
			t.Dtype, t.F64 = F64, d
		}
		f.Tensors = append(f.Tensors, t)
		if prefix, ok := strings.CutSuffix(e.Name, "running_var"); ok {
			f.Tensors = append(f.Tensors, Tensor{Name: prefix + batchesTracked, Shape: []int{}, Dtype: I64, I64: []int64{batches}})
		}
	}
	return f
}

// Mismatch is a tensor whose shape in a file differs from the model's.
type Mismatch struct {
	Name        string
	File, Model []int
}

// Report says what Load did: the tensors it copied, and those it could not match. Missing are
// the model's tensors the file lacks, Unexpected the file's tensors the model lacks (BatchNorm
// counters aside), Mismatched those present in both with other shapes.
type Report struct {
	Loaded     []string
	Missing    []string
	Unexpected []string
	Mismatched []Mismatch
}

// Clean reports whether every tensor matched.
func (r *Report) Clean() bool {
	return len(r.Missing) == 0 && len(r.Unexpected) == 0 && len(r.Mismatched) == 0
}

// String lists what did not match, in the manner of PyTorch's load_state_dict error: "missing
// keys: …; unexpected keys: …; shape mismatches: fc.weight [10 512] in the file, [5 512] in the
// model".
func (r *Report) String() string {
	var parts []string
	if len(r.Missing) > 0 {
		parts = append(parts, "missing keys: "+strings.Join(r.Missing, ", "))
	}
	if len(r.Unexpected) > 0 {
		parts = append(parts, "unexpected keys: "+strings.Join(r.Unexpected, ", "))
	}
	if len(r.Mismatched) > 0 {
		ms := make([]string, len(r.Mismatched))
		for i, m := range r.Mismatched {
			ms[i] = fmt.Sprintf("%s %v in the file, %v in the model", m.Name, m.File, m.Model)
		}
		parts = append(parts, "shape mismatches: "+strings.Join(ms, "; "))
	}
	if len(parts) == 0 {
		return "every tensor matched"
	}
	return strings.Join(parts, "; ")
}

// Load copies the tensors of f into the parameters and buffers of p by name, converting F32 and
// F64 to p's dtype. p holds the tensors of a built model (resnet.New, or resnet.Summarize for a
// model that is only to be loaded). With strict, as PyTorch's load_state_dict, any missing key,
// unexpected key or shape mismatch is an error listing all of them, and nothing is copied;
// without it the matching tensors are copied and the Report lists the rest (fine-tuning with
// another head). BatchNorm counters (num_batches_tracked) are accepted and ignored.
func Load(p *graph.Params, f *File, strict bool) (*Report, error) {
	r := &Report{}
	type copyOp struct {
		dst *graph.Param
		src *Tensor
	}
	var ops []copyOp
	inFile := make(map[string]bool, len(f.Tensors))
	for i := range f.Tensors {
		t := &f.Tensors[i]
		inFile[t.Name] = true
		e, ok := p.Get(t.Name)
		switch {
		case !ok:
			prefix, counter := strings.CutSuffix(t.Name, batchesTracked)
			if _, bn := p.Get(prefix + "running_var"); counter && bn {
				continue
			}
			r.Unexpected = append(r.Unexpected, t.Name)
		case !slices.Equal(t.Shape, []int(e.Value.Shape())):
			r.Mismatched = append(r.Mismatched, Mismatch{t.Name, t.Shape, append([]int{}, e.Value.Shape()...)})
		case t.Dtype != F32 && t.Dtype != F64:
			return r, fmt.Errorf("weights: %s is %s, the model's tensor is %v", t.Name, t.Dtype, p.Dtype())
		default:
			ops = append(ops, copyOp{e, t})
		}
	}
	for _, e := range p.All() {
		if !inFile[e.Name] {
			r.Missing = append(r.Missing, e.Name)
		}
	}
	if strict && !r.Clean() {
		return r, fmt.Errorf("weights: the file does not fit the model: %s", r)
	}
	for _, op := range ops {
		copyInto(op.dst.Value, op.src)
		r.Loaded = append(r.Loaded, op.src.Name)
	}
	return r, nil
}

// copyInto copies src's elements into dst, converting between float32 and float64.
func copyInto(dst *tensor.Dense, src *Tensor) {
	switch d := dst.Data().(type) {
	case []float32:
		if src.Dtype == F32 {
			copy(d, src.F32)
			return
		}
		for i, v := range src.F64 {
			d[i] = float32(v)
		}
	case []float64:
		if src.Dtype == F64 {
			copy(d, src.F64)
			return
		}
		for i, v := range src.F32 {
			d[i] = float64(v)
		}
	}
}
