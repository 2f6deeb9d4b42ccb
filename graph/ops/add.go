package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Add returns a+b elementwise for two tensors of the same shape: the residual join of a
// pre-activation block (He et al. 2016b), which has no ReLU after the sum. Its gradient is the
// upstream gradient itself, returned for both a and b, so the shortcut passes it on unchanged.
func Add(a, b *G.Node) (*G.Node, error) {
	const what = "ops.Add"
	if a == nil || b == nil {
		return nil, fmt.Errorf("%s: nil input node", what)
	}
	if !a.Shape().Eq(b.Shape()) || a.Shape().Dims() == 0 {
		return nil, fmt.Errorf("%s: a %v and b %v must be tensors of the same shape", what, a.Shape(), b.Shape())
	}
	dt, err := nodeDtype(a, what)
	if err != nil {
		return nil, err
	}
	if d, err := nodeDtype(b, what); err != nil || d != dt {
		return nil, fmt.Errorf("%s: a is %v but b is %v", what, dt, d)
	}
	y, err := G.ApplyOp(&addOp{shape: shapeOf(a), dt: dt}, a, b)
	if err != nil {
		return nil, fmt.Errorf("%s: a %v: %w", what, a.Shape(), err)
	}
	return y, nil
}

type addOp struct {
	pure
	shape tensor.Shape
	dt    tensor.Dtype
	out   outBuf
}

func (op *addOp) Arity() int { return 2 }
func (op *addOp) Type() hm.Type {
	t := tensorType(op.shape.Dims())
	return hm.NewFnType(t, t, t)
}
func (op *addOp) String() string                                 { return fmt.Sprintf("Add%v", op.shape) }
func (op *addOp) WriteHash(h hash.Hash)                          { writeHash(h, op) }
func (op *addOp) Hashcode() uint32                               { return hashOf(op) }
func (op *addOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op *addOp) Do(vals ...G.Value) (G.Value, error) {
	return op.run(op.out.get(op.dt, op.shape), vals)
}

// UsePreallocDo: as for the ReLU ops, p may be an input's own memory (elementwise, in place).
func (op *addOp) UsePreallocDo(p G.Value, vals ...G.Value) (G.Value, error) {
	out, err := prealloc(p, op.shape, op.dt, nil, op.String())
	if err != nil {
		return nil, err
	}
	if err := checkSameOrDisjoint(out, vals, op.String()); err != nil {
		return nil, err
	}
	return op.run(out, vals)
}
func (op *addOp) run(out *tensor.Dense, vals []G.Value) (G.Value, error) {
	what := op.String()
	if len(vals) != 2 {
		return nil, fmt.Errorf("%s: want 2 inputs, got %d", what, len(vals))
	}
	a, err := input(vals, 0, op.shape, op.dt, what)
	if err != nil {
		return nil, err
	}
	b, err := input(vals, 1, op.shape, op.dt, what)
	if err != nil {
		return nil, err
	}
	if op.dt == tensor.Float32 {
		reluForward(a, b, out, addKernel[float32])
	} else {
		reluForward(a, b, out, addKernel[float64])
	}
	return out, nil
}
func (op *addOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff adds no node: ∂(a+b)/∂a = ∂(a+b)/∂b = 1, as Gorgonia's own Add returns the gradient.
func (op *addOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	return G.Nodes{grad, grad}, nil
}

// addKernel computes y = a + b; y may alias a or b.
func addKernel[T float](a, b, y []T) {
	b, y = b[:len(a)], y[:len(a)]
	for i, v := range a {
		y[i] = v + b[i]
	}
}
