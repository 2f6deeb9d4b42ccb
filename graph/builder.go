package graph

import (
	"errors"
	"fmt"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Mode selects training or evaluation behaviour (BatchNorm batch statistics or running ones). It is
// fixed when a graph is built: build one graph per mode over the same Params.
type Mode int

const (
	// Train uses batch statistics and updates the running statistics.
	Train Mode = iota
	// Eval uses the running statistics and leaves them unchanged.
	Eval
)

func (m Mode) String() string {
	if m == Eval {
		return "eval"
	}
	return "train"
}

// Config is what a Builder needs besides the graph and the store.
type Config struct {
	Mode Mode
	// ZeroInitResidual starts γ of the last BatchNorm of every residual branch at 0, so each block
	// begins as the identity (Goyal et al. 2017; torchvision's zero_init_residual). A
	// pre-activation branch (He et al. 2016b) ends with a convolution instead: its weight (and
	// bias) start at 0 (ResidualConv2d), as timm's ResNetV2 zero_init_last does. Its last
	// BatchNorm γ is not the one to zero there: a ReLU follows it, and with γ = β = 0 the ReLU's
	// input would be 0 everywhere, where its gradient is 0, so γ and β would never move. The
	// plain twins use neither layer, so it leaves them as they are.
	ZeroInitResidual bool
	// Probe builds every BatchNorm as its own node (no fused BN+ReLU) and records it with the
	// block inputs (Responses, BlockInputs), so a probe can read layer responses and take
	// gradients with respect to block inputs. It changes no value, only speed.
	Probe bool
}

// Tap is a named node a probe reads: a block's input or a BatchNorm's output.
type Tap struct {
	Name string // scope name, e.g. "layer2.0" or "layer2.0.bn1"
	Node *G.Node
}

// Layer is one row of a model's layer table.
type Layer struct {
	Name   string       // scope name, e.g. "layer1.0.conv1"
	Op     string       // e.g. "conv3x3/1", "bn", "linear"
	Out    tensor.Shape // output shape, batch included
	Params int          // trainable scalars
	MACs   int64        // multiply-accumulates per example
}

// Binding pairs a graph node with the store entry whose tensor it holds.
type Binding struct {
	Param *Param
	Node  *G.Node
}

// state is shared by a builder and all builders scoped from it.
type state struct {
	g        *G.ExprGraph
	params   *Params
	cfg      Config
	err      error
	bindings []Binding
	layers   []Layer
	// inputGrad marks inputs whose gradient is wanted (see InputWithGrad).
	inputGrad map[*G.Node]bool
	// Nodes recorded for probes.
	blockInputs, responses []Tap
}

// Builder adds layers to an expression graph, naming every parameter after torchvision's
// state_dict keys through nested scopes. It has a sticky error, as bufio.Scanner does: the first
// failure is recorded, later calls return nil and do nothing, and Err reports it once at the end.
// Model code therefore reads like the paper: conv → bn → relu → conv → bn, add, relu.
type Builder struct {
	s      *state
	prefix string
}

// NewBuilder returns a builder that adds to g and takes its parameters from p, creating those p
// does not have yet.
func NewBuilder(g *G.ExprGraph, p *Params, cfg Config) *Builder {
	return &Builder{s: &state{g: g, params: p, cfg: cfg}}
}

// Scope returns a builder whose names are prefixed with name and a dot ("layer1" then "0" gives
// "layer1.0.conv1.weight"). It shares the graph, store and error with b.
func (b *Builder) Scope(name string) *Builder {
	return &Builder{s: b.s, prefix: b.name(name)}
}

// Scopef is Scope with a formatted name.
func (b *Builder) Scopef(format string, args ...any) *Builder {
	return b.Scope(fmt.Sprintf(format, args...))
}

func (b *Builder) name(n string) string {
	if b.prefix == "" {
		return n
	}
	return b.prefix + "." + n
}

// Graph is the expression graph being built.
func (b *Builder) Graph() *G.ExprGraph { return b.s.g }

// Params is the store the builder takes parameters from.
func (b *Builder) Params() *Params { return b.s.params }

// Mode is the mode the graph is built in.
func (b *Builder) Mode() Mode { return b.s.cfg.Mode }

// Dtype is the element type of the graph.
func (b *Builder) Dtype() tensor.Dtype { return b.s.params.Dtype() }

// Err returns the first error met while building, if any.
func (b *Builder) Err() error { return b.s.err }

// Fail records err (with the current scope) unless an error is already recorded. It lets code
// outside this package report problems through the same sticky error.
func (b *Builder) Fail(err error) {
	if err != nil && b.s.err == nil {
		if b.prefix != "" {
			err = fmt.Errorf("%s: %w", b.prefix, err)
		}
		b.s.err = err
	}
}

// ok reports whether building can go on with the given inputs.
func (b *Builder) ok(xs ...*G.Node) bool {
	if b.s.err != nil {
		return false
	}
	for _, x := range xs {
		if x == nil {
			b.Fail(errors.New("nil input node"))
			return false
		}
	}
	return true
}

// Bindings returns every store entry the graph uses, with its node, in the order the graph asked
// for them (the store's order for a graph built from the same model).
func (b *Builder) Bindings() []Binding { return b.s.bindings }

// Trainable returns the bindings of trainable parameters: what to differentiate the loss against.
func (b *Builder) Trainable() []Binding {
	var out []Binding
	for _, bd := range b.s.bindings {
		if bd.Param.Kind == Trainable {
			out = append(out, bd)
		}
	}
	return out
}

// MarkBlockInput records x as the input of the block this builder is scoped to.
func (b *Builder) MarkBlockInput(x *G.Node) {
	if b.ok(x) {
		b.s.blockInputs = append(b.s.blockInputs, Tap{Name: b.prefix, Node: x})
	}
}

// BlockInputs lists the input of every residual or plain block, in depth order.
func (b *Builder) BlockInputs() []Tap { return b.s.blockInputs }

// Responses lists every BatchNorm output, before any ReLU or residual addition, in depth order;
// it is empty unless the graph was built with Config.Probe.
func (b *Builder) Responses() []Tap { return b.s.responses }

// Layers is the layer table recorded while building.
func (b *Builder) Layers() []Layer { return b.s.layers }

func (b *Builder) record(name, op string, out *G.Node, params int, macs int64) {
	b.s.layers = append(b.s.layers, Layer{Name: name, Op: op, Out: out.Shape().Clone(), Params: params, MACs: macs})
}

// param returns the node of the named entry in this graph, creating the entry in the store if
// needed. The node holds the store's tensor itself (no copy), so optimisers that update the tensor
// in place update every graph bound to the store.
func (b *Builder) param(name string, kind Kind, shape tensor.Shape, init Init) *G.Node {
	full := b.name(name)
	e, err := b.s.params.getOrCreate(full, kind, shape, init)
	if err != nil {
		b.Fail(err)
		return nil
	}
	n := G.NewTensor(b.s.g, b.Dtype(), shape.Dims(), G.WithShape(shape...), G.WithName(full), G.WithValue(e.Value))
	b.s.bindings = append(b.s.bindings, Binding{Param: e, Node: n})
	return n
}

// Input adds an input node of the given shape named name, in the store's dtype.
func (b *Builder) Input(name string, shape ...int) *G.Node {
	if b.s.err != nil {
		return nil
	}
	return G.NewTensor(b.s.g, b.Dtype(), len(shape), G.WithShape(shape...), G.WithName(b.name(name)))
}

// AssertDims fails the build unless x has the given dimensions; -1 matches any size. It documents
// shapes inline, as GoMLX's AssertDims does.
func (b *Builder) AssertDims(x *G.Node, dims ...int) {
	if !b.ok(x) {
		return
	}
	s := x.Shape()
	good := len(s) == len(dims)
	for i := 0; good && i < len(dims); i++ {
		good = dims[i] < 0 || dims[i] == s[i]
	}
	if !good {
		b.Fail(fmt.Errorf("shape %v, want %v", s, dims))
	}
}

// describe formats a shape for error messages.
func describe(s tensor.Shape) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "(" + strings.Join(parts, ",") + ")"
}
