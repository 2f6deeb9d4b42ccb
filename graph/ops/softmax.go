package ops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// SoftmaxCrossEntropy returns the mean over the batch of the cross-entropy between the targets
// and the softmax of the logits, a scalar:
//
//	L = (1/B) Σ_b Σ_k -t[b,k] · log_softmax(l)[b,k],   log_softmax(l)[b,k] = l[b,k] - m_b - log Σ_j exp(l[b,j] - m_b)
//
// for logits l and targets t of shape (B,K); t is one-hot or soft (rows summing to 1); m_b is the
// row maximum, subtracted for numerical stability. Sums are taken in float64. The gradient is
// with respect to the logits only (the targets get none):
//
//	dl[b,k] = g/B · (softmax(l)[b,k]·Σ_j t[b,j] - t[b,k])
//
// which is g·(softmax - t)/B for rows of t summing to 1; g is the incoming scalar gradient.
func SoftmaxCrossEntropy(logits, targets *G.Node) (*G.Node, error) {
	const what = "ops.SoftmaxCrossEntropy"
	if logits == nil || targets == nil {
		return nil, fmt.Errorf("%s: nil input node", what)
	}
	ls, ts := logits.Shape(), targets.Shape()
	if ls.Dims() != 2 || !ls.Eq(ts) || ls.TotalSize() == 0 {
		return nil, fmt.Errorf("%s: logits %v and targets %v must both be (B,K)", what, ls, ts)
	}
	dt, err := nodeDtype(logits, what)
	if err != nil {
		return nil, err
	}
	if d, err := nodeDtype(targets, what); err != nil || d != dt {
		return nil, fmt.Errorf("%s: logits are %v but targets are %v", what, dt, d)
	}
	y, err := G.ApplyOp(&sceOp{shape: ls.Clone(), dt: dt}, logits, targets)
	if err != nil {
		return nil, fmt.Errorf("%s: logits %v: %w", what, ls, err)
	}
	return y, nil
}

// sceOp: (logits, targets) -> scalar loss. Its scalar output is owned by the op.
type sceOp struct {
	pure
	shape tensor.Shape
	dt    tensor.Dtype
	f64   G.F64
	f32   G.F32
}

func (op *sceOp) Arity() int { return 2 }

// Type is Tensor-2 a → Tensor-2 a → a, the same scalar result type as Gorgonia's full reductions.
func (op *sceOp) Type() hm.Type {
	return hm.NewFnType(tensorType(2), tensorType(2), hm.TypeVariable('a'))
}
func (op *sceOp) String() string { return fmt.Sprintf("SoftmaxCrossEntropy%v", op.shape) }
func (op *sceOp) WriteHash(h hash.Hash) {
	writeHash(h, op)
}
func (op *sceOp) Hashcode() uint32 { return hashOf(op) }
func (op *sceOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (op *sceOp) Do(vals ...G.Value) (G.Value, error) {
	what := op.String()
	if len(vals) != 2 {
		return nil, fmt.Errorf("%s: want 2 inputs (logits, targets), got %d", what, len(vals))
	}
	l, err := input(vals, 0, op.shape, op.dt, what)
	if err != nil {
		return nil, err
	}
	t, err := input(vals, 1, op.shape, op.dt, what)
	if err != nil {
		return nil, err
	}
	if op.dt == tensor.Float32 {
		op.f32 = G.F32(sceForward(op.shape[0], op.shape[1], dataOf[float32](l), dataOf[float32](t)))
		return &op.f32, nil
	}
	op.f64 = G.F64(sceForward(op.shape[0], op.shape[1], dataOf[float64](l), dataOf[float64](t)))
	return &op.f64, nil
}

// UsePreallocDo accepts only the op's own scalar (so that it never writes into a scalar value
// it does not own, such as a shared constant); for anything else it returns an error, and the
// machine calls Do.
func (op *sceOp) UsePreallocDo(p G.Value, vals ...G.Value) (G.Value, error) {
	switch v := p.(type) {
	case *G.F64:
		if v == &op.f64 && op.dt == tensor.Float64 {
			return op.Do(vals...)
		}
	case *G.F32:
		if v == &op.f32 && op.dt == tensor.Float32 {
			return op.Do(vals...)
		}
	}
	return nil, fmt.Errorf("%s: cannot use preallocated %T for the %v scalar output", op, p, op.dt)
}
func (op *sceOp) DiffWRT(int) []bool { return []bool{true, false} }
func (op *sceOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("%s: SymDiff wants 2 inputs, got %d", op, len(inputs))
	}
	d, err := G.ApplyOp(&sceGradOp{shape: op.shape, dt: op.dt}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return G.Nodes{d, nil}, nil
}

func sceForward[T float](B, K int, l, t []T) float64 {
	var total float64
	for b := 0; b < B; b++ {
		lr, tr := l[b*K:(b+1)*K], t[b*K:(b+1)*K]
		m := float64(lr[0])
		for _, v := range lr {
			m = max(m, float64(v))
		}
		var se, st, stl float64
		for k, v := range lr {
			d := float64(v) - m
			se += math.Exp(d)
			st += float64(tr[k])
			stl += float64(tr[k]) * d
		}
		// -Σ t·(l - m - log se) = st·log se - Σ t·(l-m)
		total += st*math.Log(se) - stl
	}
	return total / float64(B)
}

// sceGradOp: (logits, targets, g) -> dlogits.
type sceGradOp struct {
	pure
	shape tensor.Shape
	dt    tensor.Dtype
	out   outBuf
}

func (op *sceGradOp) Arity() int { return 3 }
func (op *sceGradOp) Type() hm.Type {
	return hm.NewFnType(tensorType(2), tensorType(2), hm.TypeVariable('a'), tensorType(2))
}
func (op *sceGradOp) String() string { return fmt.Sprintf("SoftmaxCrossEntropyGrad%v", op.shape) }
func (op *sceGradOp) WriteHash(h hash.Hash) {
	writeHash(h, op)
}
func (op *sceGradOp) Hashcode() uint32                               { return hashOf(op) }
func (op *sceGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op *sceGradOp) Do(vals ...G.Value) (G.Value, error) {
	return op.run(op.out.get(op.dt, op.shape), vals)
}
func (op *sceGradOp) UsePreallocDo(p G.Value, vals ...G.Value) (G.Value, error) {
	out, err := prealloc(p, op.shape, op.dt, vals, op.String())
	if err != nil {
		return nil, err
	}
	return op.run(out, vals)
}
func (op *sceGradOp) run(out *tensor.Dense, vals []G.Value) (G.Value, error) {
	what := op.String()
	if len(vals) != 3 {
		return nil, fmt.Errorf("%s: want 3 inputs (logits, targets, grad), got %d", what, len(vals))
	}
	l, err := input(vals, 0, op.shape, op.dt, what)
	if err != nil {
		return nil, err
	}
	t, err := input(vals, 1, op.shape, op.dt, what)
	if err != nil {
		return nil, err
	}
	g, err := scalarInput(vals, 2, what)
	if err != nil {
		return nil, err
	}
	if op.dt == tensor.Float32 {
		sceBackward(op.shape[0], op.shape[1], g, dataOf[float32](l), dataOf[float32](t), dataOf[float32](out))
	} else {
		sceBackward(op.shape[0], op.shape[1], g, dataOf[float64](l), dataOf[float64](t), dataOf[float64](out))
	}
	return out, nil
}
func (op *sceGradOp) DiffWRT(int) []bool { return []bool{false, false, false} }
func (op *sceGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, noSecondDerivative(op.String())
}

func sceBackward[T float](B, K int, g float64, l, t, dl []T) {
	scale := g / float64(B)
	for b := 0; b < B; b++ {
		lr, tr, dr := l[b*K:(b+1)*K], t[b*K:(b+1)*K], dl[b*K:(b+1)*K]
		m := float64(lr[0])
		for _, v := range lr {
			m = max(m, float64(v))
		}
		var se, st float64
		for k, v := range lr {
			se += math.Exp(float64(v) - m)
			st += float64(tr[k])
		}
		for k, v := range lr {
			p := math.Exp(float64(v)-m) / se
			dr[k] = T(scale * (p*st - float64(tr[k])))
		}
	}
}
