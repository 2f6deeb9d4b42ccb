package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MatMulT returns x·wᵀ for x of shape (N, in) and w of shape (out, in), as PyTorch's
// nn.Linear keeps its weight: one matrix product with w read transposed in place. (G.Mul of x
// and G.Transpose(w) copies w into its transpose through Gorgonia's element iterator on every
// run: 6.5% of a ResNet-18 inference at batch 1.) The gradients are
//
//	dx = dy·w        dw = dyᵀ·x
//
// each one matrix product, computed by two gradient ops of this package.
func MatMulT(x, w *G.Node) (*G.Node, error) {
	const what = "ops.MatMulT"
	if x == nil || w == nil {
		return nil, fmt.Errorf("%s: nil input node", what)
	}
	xs, ws := x.Shape(), w.Shape()
	if xs.Dims() != 2 || ws.Dims() != 2 || xs[1] != ws[1] || xs.TotalSize() == 0 || ws.TotalSize() == 0 {
		return nil, fmt.Errorf("%s: x %v and w %v must be (N, in) and (out, in)", what, xs, ws)
	}
	dt, err := nodeDtype(x, what)
	if err != nil {
		return nil, err
	}
	if d, err := nodeDtype(w, what); err != nil || d != dt {
		return nil, fmt.Errorf("%s: x is %v but w is %v", what, dt, d)
	}
	y, err := G.ApplyOp(&matMulTOp{n: xs[0], in: xs[1], out: ws[0], dt: dt}, x, w)
	if err != nil {
		return nil, fmt.Errorf("%s: x %v, w %v: %w", what, xs, ws, err)
	}
	return y, nil
}

// matMulTOp is y = x·wᵀ, or one of its gradients: dx = dy·w from (dy, w), dw = dyᵀ·x from (dy, x).
type matMulTOp struct {
	pure
	n, in, out int
	dt         tensor.Dtype
	grad       byte // 0: the product; 'x' or 'w': that gradient
	buf        outBuf
}

func (op *matMulTOp) shapes() (a, b, y tensor.Shape) {
	switch op.grad {
	case 'x':
		return tensor.Shape{op.n, op.out}, tensor.Shape{op.out, op.in}, tensor.Shape{op.n, op.in}
	case 'w':
		return tensor.Shape{op.n, op.out}, tensor.Shape{op.n, op.in}, tensor.Shape{op.out, op.in}
	}
	return tensor.Shape{op.n, op.in}, tensor.Shape{op.out, op.in}, tensor.Shape{op.n, op.out}
}

func (op *matMulTOp) Arity() int    { return 2 }
func (op *matMulTOp) Type() hm.Type { return hm.NewFnType(tensorType(2), tensorType(2), tensorType(2)) }
func (op *matMulTOp) String() string {
	name := "MatMulT"
	if op.grad != 0 {
		name += "Grad" + string(op.grad)
	}
	return fmt.Sprintf("%s(%d,%d)x(%d,%d)", name, op.n, op.in, op.out, op.in)
}
func (op *matMulTOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *matMulTOp) Hashcode() uint32      { return hashOf(op) }
func (op *matMulTOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	_, _, y := op.shapes()
	return y, nil
}
func (op *matMulTOp) Do(vals ...G.Value) (G.Value, error) {
	_, _, y := op.shapes()
	return op.run(op.buf.get(op.dt, y), vals)
}
func (op *matMulTOp) UsePreallocDo(p G.Value, vals ...G.Value) (G.Value, error) {
	_, _, y := op.shapes()
	out, err := prealloc(p, y, op.dt, vals, op.String())
	if err != nil {
		return nil, err
	}
	return op.run(out, vals)
}

func (op *matMulTOp) run(out *tensor.Dense, vals []G.Value) (G.Value, error) {
	what := op.String()
	if len(vals) != 2 {
		return nil, fmt.Errorf("%s: want 2 inputs, got %d", what, len(vals))
	}
	as, bs, _ := op.shapes()
	a, err := input(vals, 0, as, op.dt, what)
	if err != nil {
		return nil, err
	}
	b, err := input(vals, 1, bs, op.dt, what)
	if err != nil {
		return nil, err
	}
	if op.dt == tensor.Float32 {
		matMulT(op, dataOf[float32](a), dataOf[float32](b), dataOf[float32](out))
	} else {
		matMulT(op, dataOf[float64](a), dataOf[float64](b), dataOf[float64](out))
	}
	return out, nil
}

func matMulT[T float](op *matMulTOp, a, b, y []T) {
	n, in, out := op.n, op.in, op.out
	switch op.grad {
	case 'x': // dx (n×in) = dy (n×out) · w (out×in)
		gemm(false, false, n, in, out, 1, a, out, b, in, 0, y, in)
	case 'w': // dw (out×in) = dyᵀ (out×n) · x (n×in)
		gemm(true, false, out, in, n, 1, a, out, b, in, 0, y, in)
	default: // y (n×out) = x (n×in) · wᵀ (in×out)
		gemm(false, true, n, out, in, 1, a, in, b, in, 0, y, out)
	}
}

func (op *matMulTOp) DiffWRT(int) []bool {
	if op.grad != 0 {
		return []bool{false, false}
	}
	return []bool{true, true}
}

func (op *matMulTOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if op.grad != 0 {
		return nil, noSecondDerivative(op.String())
	}
	if len(inputs) != 2 {
		return nil, fmt.Errorf("%s: SymDiff wants 2 inputs, got %d", op, len(inputs))
	}
	dx, err := G.ApplyOp(&matMulTOp{n: op.n, in: op.in, out: op.out, dt: op.dt, grad: 'x'}, grad, inputs[1])
	if err != nil {
		return nil, fmt.Errorf("%s: dx: %w", op, err)
	}
	dw, err := G.ApplyOp(&matMulTOp{n: op.n, in: op.in, out: op.out, dt: op.dt, grad: 'w'}, grad, inputs[0])
	if err != nil {
		return nil, fmt.Errorf("%s: dw: %w", op, err)
	}
	return G.Nodes{dx, dw}, nil
}
