package graph

import (
	"fmt"
	"math"
	"math/rand"

	"gorgonia.org/tensor"
)

// Kind tells a trainable parameter from a buffer (state that is saved but not trained).
type Kind int

const (
	// Trainable parameters receive gradients and are updated by the optimiser.
	Trainable Kind = iota
	// Buffer is state such as BatchNorm running statistics: saved, never differentiated.
	Buffer
)

func (k Kind) String() string {
	if k == Buffer {
		return "buffer"
	}
	return "param"
}

// Param is one named tensor of a model: a weight or a buffer. Its name is the torchvision
// state_dict key (for example "layer2.0.downsample.1.running_var").
type Param struct {
	Name  string
	Kind  Kind
	Value *tensor.Dense
}

// Params owns the tensors of a model by name, in creation order, which is also torchvision's
// state_dict order. The same Params can be bound to several graphs (a training graph and an
// evaluation graph at another batch size): they share the tensors, so an update made through one
// graph is seen by the others.
type Params struct {
	dtype   tensor.Dtype
	rng     *rand.Rand
	entries []*Param
	byName  map[string]*Param
}

// NewParams returns an empty store of the given dtype (tensor.Float32 or tensor.Float64). New
// parameters are initialised from a random source seeded with seed, so a model built twice from
// the same seed has the same weights.
func NewParams(dtype tensor.Dtype, seed int64) (*Params, error) {
	if dtype != tensor.Float32 && dtype != tensor.Float64 {
		return nil, fmt.Errorf("graph: unsupported dtype %v (want float32 or float64)", dtype)
	}
	return &Params{dtype: dtype, rng: rand.New(rand.NewSource(seed)), byName: map[string]*Param{}}, nil
}

// Dtype is the element type of every tensor in the store.
func (p *Params) Dtype() tensor.Dtype { return p.dtype }

// All returns parameters and buffers in creation (state_dict) order.
func (p *Params) All() []*Param { return p.entries }

// Trainable returns the trainable parameters in creation order.
func (p *Params) Trainable() []*Param { return p.filter(Trainable) }

// Buffers returns the buffers in creation order.
func (p *Params) Buffers() []*Param { return p.filter(Buffer) }

func (p *Params) filter(k Kind) []*Param {
	var out []*Param
	for _, e := range p.entries {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// Get returns the entry called name.
func (p *Params) Get(name string) (*Param, bool) {
	e, ok := p.byName[name]
	return e, ok
}

// Count is the number of trainable scalars.
func (p *Params) Count() int {
	n := 0
	for _, e := range p.Trainable() {
		n += e.Value.Shape().TotalSize()
	}
	return n
}

// Init says how a new tensor is filled.
type Init func(rng *rand.Rand, shape tensor.Shape, data []float64)

// KaimingNormalFanOut is He et al. 2015 for ReLU nets with fan_out mode, as torchvision
// initialises its convolutions: N(0, 2/fan_out), fan_out = O·kh·kw.
func KaimingNormalFanOut(rng *rand.Rand, shape tensor.Shape, data []float64) {
	fanOut := shape.TotalSize() / shape[1]
	std := math.Sqrt(2 / float64(fanOut))
	for i := range data {
		data[i] = rng.NormFloat64() * std
	}
}

// UniformFanIn is PyTorch's default Linear initialisation (kaiming_uniform with a=√5 for the
// weight, and the same bound for the bias): U(−1/√fan_in, 1/√fan_in).
func UniformFanIn(fanIn int) Init {
	bound := 1 / math.Sqrt(float64(fanIn))
	return func(rng *rand.Rand, _ tensor.Shape, data []float64) {
		for i := range data {
			data[i] = (2*rng.Float64() - 1) * bound
		}
	}
}

// Constant fills with v.
func Constant(v float64) Init {
	return func(_ *rand.Rand, _ tensor.Shape, data []float64) {
		for i := range data {
			data[i] = v
		}
	}
}

// getOrCreate returns the entry called name, creating and initialising it when the store does not
// have it yet. An existing entry must have the same kind and shape: a store built for one model
// cannot silently be bound to another.
func (p *Params) getOrCreate(name string, kind Kind, shape tensor.Shape, init Init) (*Param, error) {
	if e, ok := p.byName[name]; ok {
		if e.Kind != kind || !e.Value.Shape().Eq(shape) {
			return nil, fmt.Errorf("graph: %s %q exists with shape %v, the graph wants %s of shape %v",
				e.Kind, name, e.Value.Shape(), kind, shape)
		}
		return e, nil
	}
	vals := make([]float64, shape.TotalSize())
	init(p.rng, shape, vals)
	var t *tensor.Dense
	if p.dtype == tensor.Float32 {
		f := make([]float32, len(vals))
		for i, v := range vals {
			f[i] = float32(v)
		}
		t = tensor.New(tensor.WithShape(shape.Clone()...), tensor.WithBacking(f))
	} else {
		t = tensor.New(tensor.WithShape(shape.Clone()...), tensor.WithBacking(vals))
	}
	e := &Param{Name: name, Kind: kind, Value: t}
	p.entries = append(p.entries, e)
	p.byName[name] = e
	return e, nil
}
