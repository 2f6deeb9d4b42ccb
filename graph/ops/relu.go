package ops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ReLU returns max(x, 0) elementwise, for a tensor x of any shape, computed branch-free (the
// builtin max). Its gradient, dx = dy·[y>0], is computed from the output y with a bit mask.
func ReLU(x *G.Node) (*G.Node, error) {
	const what = "ops.ReLU"
	if x == nil {
		return nil, fmt.Errorf("%s: nil input node", what)
	}
	dt, err := nodeDtype(x, what)
	if err != nil {
		return nil, err
	}
	if x.Shape().Dims() == 0 {
		return nil, fmt.Errorf("%s: x must be a tensor, got shape %v", what, x.Shape())
	}
	y, err := G.ApplyOp(&reluOp{shape: shapeOf(x), dt: dt}, x)
	if err != nil {
		return nil, fmt.Errorf("%s: x %v: %w", what, x.Shape(), err)
	}
	return y, nil
}

// AddReLU returns relu(a+b) = max(a+b, 0) elementwise, fused in one op (the residual join of a
// ResNet block); a and b must have the same shape. The gradient dy·[y>0] (from the output y) is
// one node, returned for both a and b.
func AddReLU(a, b *G.Node) (*G.Node, error) {
	const what = "ops.AddReLU"
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
	y, err := G.ApplyOp(&reluOp{shape: shapeOf(a), dt: dt, add: true}, a, b)
	if err != nil {
		return nil, fmt.Errorf("%s: a %v: %w", what, a.Shape(), err)
	}
	return y, nil
}

// ---------------------------------------------------------------- forward op: x -> y or (a, b) -> y

type reluOp struct {
	pure
	shape tensor.Shape
	dt    tensor.Dtype
	add   bool
	out   outBuf
}

func (op *reluOp) Arity() int {
	if op.add {
		return 2
	}
	return 1
}
func (op *reluOp) Type() hm.Type {
	t := tensorType(op.shape.Dims())
	if op.add {
		return hm.NewFnType(t, t, t)
	}
	return hm.NewFnType(t, t)
}
func (op *reluOp) String() string {
	if op.add {
		return fmt.Sprintf("AddReLU%v", op.shape)
	}
	return fmt.Sprintf("ReLU%v", op.shape)
}
func (op *reluOp) WriteHash(h hash.Hash)                          { writeHash(h, op) }
func (op *reluOp) Hashcode() uint32                               { return hashOf(op) }
func (op *reluOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op *reluOp) Do(vals ...G.Value) (G.Value, error) {
	return op.run(op.out.get(op.dt, op.shape), vals)
}

// UsePreallocDo writes into p when it is a dense tensor of the output's shape and dtype. Unlike
// the other ops, p may be one of the inputs: the op is elementwise, so it is then computed in place.
func (op *reluOp) UsePreallocDo(p G.Value, vals ...G.Value) (G.Value, error) {
	out, err := prealloc(p, op.shape, op.dt, nil, op.String())
	if err != nil {
		return nil, err
	}
	if err := checkSameOrDisjoint(out, vals, op.String()); err != nil {
		return nil, err
	}
	return op.run(out, vals)
}
func (op *reluOp) run(out *tensor.Dense, vals []G.Value) (G.Value, error) {
	what := op.String()
	if len(vals) != op.Arity() {
		return nil, fmt.Errorf("%s: want %d inputs, got %d", what, op.Arity(), len(vals))
	}
	a, err := input(vals, 0, op.shape, op.dt, what)
	if err != nil {
		return nil, err
	}
	var b *tensor.Dense
	if op.add {
		if b, err = input(vals, 1, op.shape, op.dt, what); err != nil {
			return nil, err
		}
	}
	if op.dt == tensor.Float32 {
		reluForward(a, b, out, func(a, b, y []float32) { reluKernel(a, b, y) })
	} else {
		reluForward(a, b, out, func(a, b, y []float64) { reluKernel(a, b, y) })
	}
	return out, nil
}
func (op *reluOp) DiffWRT(n int) []bool { return bools(n, true) }
func (op *reluOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&reluGradOp{shape: op.shape, dt: op.dt}, output, grad)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if op.add {
		return G.Nodes{d, d}, nil
	}
	return G.Nodes{d}, nil
}

// reluChunk is the minimum number of elements per worker for elementwise ops.
const reluChunk = 1 << 15

func reluForward[T float](a, b, out *tensor.Dense, k func(a, b, y []T)) {
	ad, yd := dataOf[T](a), dataOf[T](out)
	var bd []T
	if b != nil {
		bd = dataOf[T](b)
	}
	parallelMin(len(yd), reluChunk, func(_, lo, hi int) {
		if bd != nil {
			k(ad[lo:hi], bd[lo:hi], yd[lo:hi])
		} else {
			k(ad[lo:hi], nil, yd[lo:hi])
		}
	})
}

// reluKernel computes y = max(a, 0), or max(a+b, 0) when b is not nil; float32 uses relu32 and
// addRelu32, which keep max's semantics bit for bit (a NaN stays a NaN, with its sign bit cleared
// as max leaves it on amd64, so that diverged runs stay visible; -0 gives +0).
func reluKernel[T float](a, b, y []T) {
	y = y[:len(a)]
	if isF32[T]() {
		if b == nil {
			relu32(f32s(a), f32s(y))
		} else {
			addRelu32(f32s(a), f32s(b[:len(a)]), f32s(y))
		}
		return
	}
	reluKernelGo(a, b, y)
}

// reluKernelGo is reluKernel in Go (the reference and fallback); builtin max is branch-free.
func reluKernelGo[T float](a, b, y []T) {
	y = y[:len(a)]
	if b == nil {
		for i, v := range a {
			y[i] = max(v, 0)
		}
		return
	}
	b = b[:len(a)]
	for i, v := range a {
		y[i] = max(v+b[i], 0)
	}
}

// ---------------------------------------------------------------- gradient op: (y, dy) -> dy·[y>0]

type reluGradOp struct {
	pure
	shape tensor.Shape
	dt    tensor.Dtype
	out   outBuf
}

func (op *reluGradOp) Arity() int { return 2 }
func (op *reluGradOp) Type() hm.Type {
	t := tensorType(op.shape.Dims())
	return hm.NewFnType(t, t, t)
}
func (op *reluGradOp) String() string                                 { return fmt.Sprintf("ReLUGrad%v", op.shape) }
func (op *reluGradOp) WriteHash(h hash.Hash)                          { writeHash(h, op) }
func (op *reluGradOp) Hashcode() uint32                               { return hashOf(op) }
func (op *reluGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op *reluGradOp) Do(vals ...G.Value) (G.Value, error) {
	return op.run(op.out.get(op.dt, op.shape), vals)
}

// UsePreallocDo: as for the forward op, p may alias an input (elementwise, in place).
func (op *reluGradOp) UsePreallocDo(p G.Value, vals ...G.Value) (G.Value, error) {
	out, err := prealloc(p, op.shape, op.dt, nil, op.String())
	if err != nil {
		return nil, err
	}
	if err := checkSameOrDisjoint(out, vals, op.String()); err != nil {
		return nil, err
	}
	return op.run(out, vals)
}
func (op *reluGradOp) run(out *tensor.Dense, vals []G.Value) (G.Value, error) {
	what := op.String()
	if len(vals) != 2 {
		return nil, fmt.Errorf("%s: want 2 inputs (y, dy), got %d", what, len(vals))
	}
	y, err := input(vals, 0, op.shape, op.dt, what)
	if err != nil {
		return nil, err
	}
	dy, err := input(vals, 1, op.shape, op.dt, what)
	if err != nil {
		return nil, err
	}
	if op.dt == tensor.Float32 {
		reluForward(y, dy, out, func(y, dy, dx []float32) { reluMask(y, dy, dx) })
	} else {
		reluForward(y, dy, out, func(y, dy, dx []float64) { reluMask(y, dy, dx) })
	}
	return out, nil
}
func (op *reluGradOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op *reluGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, noSecondDerivative(op.String())
}

// reluMask computes dx = dy·[y>0] branch-free from a ReLU output y (y is +0, positive or NaN, so
// y>0 is "the bits of y are not zero"; NaN lets the gradient through). dx may alias dy or y.
func reluMask[T float](y, dy, dx []T) {
	n := len(y)
	dy, dx = dy[:n], dx[:n]
	if isF32[T]() {
		reluMask32(f32s(y), f32s(dy), f32s(dx))
		return
	}
	yy, d, o := f64s(y), f64s(dy), f64s(dx)
	for i := 0; i < n; i++ {
		u := math.Float64bits(yy[i])
		m := uint64(int64(u|-u) >> 63)
		o[i] = math.Float64frombits(math.Float64bits(d[i]) & m)
	}
}

// reluMask32Go is the Go reference and fallback of the SIMD reluMask32.
func reluMask32Go(y, dy, dx []float32) {
	n := len(y)
	dy, dx = dy[:n], dx[:n]
	for i := 0; i < n; i++ {
		u := math.Float32bits(y[i])
		m := uint32(int32(u|-u) >> 31)
		dx[i] = math.Float32frombits(math.Float32bits(dy[i]) & m)
	}
}

// checkSameOrDisjoint accepts an output that is either exactly an input's memory (in place) or
// disjoint from every input; a partial overlap is an error.
func checkSameOrDisjoint(out *tensor.Dense, vals []G.Value, what string) error {
	lo, hi := span(out)
	for i, v := range vals {
		if d, ok := v.(*tensor.Dense); ok {
			l2, h2 := span(d)
			if lo < h2 && l2 < hi && (lo != l2 || hi != h2) {
				return fmt.Errorf("%s: preallocated value of shape %v partially overlaps input %d", what, out.Shape(), i)
			}
		}
	}
	return nil
}
