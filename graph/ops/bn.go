package ops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BNStats holds the running statistics and the settings of one batch-normalisation layer.
//
// Mean and Var are 1-D tensors of length C (the channel count) with the same dtype as the
// normalised input; they are owned by the caller (typically a parameter store) and are read by
// the operator in evaluation mode and updated in place in training mode, with PyTorch's
// semantics: with the batch mean μ_B and biased batch variance σ²_B of a channel over its
// n = B·H·W values,
//
//	running_mean = (1-Momentum)·running_mean + Momentum·μ_B
//	running_var  = (1-Momentum)·running_var  + Momentum·σ²_B·n/(n-1)   (unbiased)
//
// Momentum is the weight of the new batch statistic (PyTorch's default 0.1) and Eps the constant
// added to the variance (PyTorch's default 1e-5). Training selects the mode; it is read at every
// forward run, so one graph can be switched between modes between runs.
type BNStats struct {
	Mean, Var     tensor.Tensor
	Momentum, Eps float64
	Training      bool
}

// BatchNorm returns the batch normalisation of x, of shape (B,C,H,W) or (B,C), with the
// per-channel scale gamma and shift beta (1-D of length C; any shape with C elements is
// accepted, and its gradient has that shape):
//
//	y = γ_c·(x-μ_c)/sqrt(σ²_c+ε) + β_c
//
// In training mode (st.Training) μ_c and σ²_c are the mean and biased variance of channel c over
// the batch and the spatial positions (n = B·H·W values), and st.Mean and st.Var are updated as
// described at BNStats. In evaluation mode they are st.Mean and st.Var, and y is an affine map of x.
//
// Gradients flow to x, gamma and beta. With x̂ = (x-μ)·s, s = 1/sqrt(σ²+ε) and the sums over a
// channel's n values, training mode gives
//
//	dβ = Σ dy    dγ = Σ dy·x̂    dx = γ·s·(dy - dβ/n - x̂·dγ/n)
//
// and evaluation mode the gradient of the affine map: dx = γ·s·dy (same dγ and dβ). One gradient
// op computes dx together with dγ and dβ in one pass over x and dy; two cheap ops, which take the
// dx node as input so that they run after it, output dγ and dβ. Statistics are accumulated in
// float64 across rows (within a row in the element type); the work is split by channel.
func BatchNorm(x, gamma, beta *G.Node, st *BNStats) (*G.Node, error) {
	return batchNorm(x, gamma, beta, st, false)
}

// BatchNormReLU returns relu(BatchNorm(x, gamma, beta, st)) = max(BatchNorm(...), 0), fused in one
// op: the forward pass writes max(γ_c·x̂+β_c, 0) directly, and the backward pass applies the
// formulas of BatchNorm to the masked gradient dy·[y>0] computed from the output y.
func BatchNormReLU(x, gamma, beta *G.Node, st *BNStats) (*G.Node, error) {
	return batchNorm(x, gamma, beta, st, true)
}

// bnShared is the state of one batch-norm layer shared by its forward and gradient ops.
type bnShared struct {
	st       *BNStats
	relu     bool
	dt       tensor.Dtype
	xShape   tensor.Shape
	gShape   tensor.Shape // gamma's shape
	bShape   tensor.Shape // beta's shape
	B, C, HW int

	// set by the forward op: the mode and statistics of the last forward run
	fwdRan   bool
	training bool
	mean     []float64
	invstd   []float64
	// set by the dx op
	dxRan  bool
	dgamma []float64
	dbeta  []float64
}

func (s *bnShared) name() string {
	n := "BatchNorm"
	if s.relu {
		n = "BatchNormReLU"
	}
	return fmt.Sprintf("%s@%p%v", n, s, s.xShape)
}

func batchNorm(x, gamma, beta *G.Node, st *BNStats, relu bool) (*G.Node, error) {
	what := "ops.BatchNorm"
	if relu {
		what = "ops.BatchNormReLU"
	}
	if x == nil || gamma == nil || beta == nil {
		return nil, fmt.Errorf("%s: nil input node", what)
	}
	if st == nil {
		return nil, fmt.Errorf("%s: nil *BNStats", what)
	}
	xs := x.Shape()
	if xs.Dims() != 4 && xs.Dims() != 2 {
		return nil, fmt.Errorf("%s: x has shape %v, want (B,C,H,W) or (B,C)", what, xs)
	}
	for _, d := range xs {
		if d < 1 {
			return nil, fmt.Errorf("%s: x has shape %v with an empty axis", what, xs)
		}
	}
	c := xs[1]
	if gamma.Shape().TotalSize() != c || beta.Shape().TotalSize() != c {
		return nil, fmt.Errorf("%s: gamma %v and beta %v must have %d elements for x %v", what, gamma.Shape(), beta.Shape(), c, xs)
	}
	dt, err := nodeDtype(x, what)
	if err != nil {
		return nil, err
	}
	for _, n := range []*G.Node{gamma, beta} {
		if d, err := nodeDtype(n, what); err != nil || d != dt {
			return nil, fmt.Errorf("%s: x is %v but %v is %v", what, dt, n, d)
		}
	}
	for _, v := range []struct {
		t    tensor.Tensor
		name string
	}{{st.Mean, "BNStats.Mean"}, {st.Var, "BNStats.Var"}} {
		if v.t == nil {
			return nil, fmt.Errorf("%s: %s is nil for x %v", what, v.name, xs)
		}
		if v.t.Dtype() != dt || v.t.Shape().TotalSize() != c {
			return nil, fmt.Errorf("%s: %s is %v %v, want %v of %d elements for x %v", what, v.name, v.t.Dtype(), v.t.Shape(), dt, c, xs)
		}
	}
	if !(st.Eps >= 0) || !(st.Momentum >= 0 && st.Momentum <= 1) {
		return nil, fmt.Errorf("%s: invalid Eps %v or Momentum %v for x %v", what, st.Eps, st.Momentum, xs)
	}
	s := &bnShared{st: st, relu: relu, dt: dt, xShape: xs.Clone(), gShape: gamma.Shape().Clone(),
		bShape: beta.Shape().Clone(), B: xs[0], C: c, HW: xs.TotalSize() / (xs[0] * c),
		mean: make([]float64, c), invstd: make([]float64, c), dgamma: make([]float64, c), dbeta: make([]float64, c)}
	y, err := G.ApplyOp(&bnOp{s: s}, x, gamma, beta)
	if err != nil {
		return nil, fmt.Errorf("%s: x %v: %w", what, xs, err)
	}
	return y, nil
}

// ---------------------------------------------------------------- forward op: (x, γ, β) -> y

type bnOp struct {
	pure
	s   *bnShared
	out outBuf
}

func (op *bnOp) Arity() int { return 3 }
func (op *bnOp) Type() hm.Type {
	s := op.s
	return hm.NewFnType(tensorType(s.xShape.Dims()), tensorType(s.gShape.Dims()), tensorType(s.bShape.Dims()), tensorType(s.xShape.Dims()))
}
func (op *bnOp) String() string                                 { return op.s.name() }
func (op *bnOp) WriteHash(h hash.Hash)                          { writeHash(h, op) }
func (op *bnOp) Hashcode() uint32                               { return hashOf(op) }
func (op *bnOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.s.xShape.Clone(), nil }

func (op *bnOp) Do(vals ...G.Value) (G.Value, error) {
	return op.run(op.out.get(op.s.dt, op.s.xShape), vals)
}

func (op *bnOp) UsePreallocDo(p G.Value, vals ...G.Value) (G.Value, error) {
	out, err := prealloc(p, op.s.xShape, op.s.dt, vals, op.String())
	if err != nil {
		return nil, err
	}
	return op.run(out, vals)
}

func (op *bnOp) run(out *tensor.Dense, vals []G.Value) (G.Value, error) {
	s, what := op.s, op.String()
	if len(vals) != 3 {
		return nil, fmt.Errorf("%s: want 3 inputs (x, gamma, beta), got %d", what, len(vals))
	}
	x, err := input(vals, 0, s.xShape, s.dt, what)
	if err != nil {
		return nil, err
	}
	gamma, err := input(vals, 1, s.gShape, s.dt, what)
	if err != nil {
		return nil, err
	}
	beta, err := input(vals, 2, s.bShape, s.dt, what)
	if err != nil {
		return nil, err
	}
	if s.dt == tensor.Float32 {
		err = bnForward(s, dataOf[float32](x), dataOf[float32](gamma), dataOf[float32](beta), dataOf[float32](out))
	} else {
		err = bnForward(s, dataOf[float64](x), dataOf[float64](gamma), dataOf[float64](beta), dataOf[float64](out))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

func (op *bnOp) DiffWRT(int) []bool { return []bool{true, true, true} }

// SymDiff returns {dx, dγ, dβ}: dx from one op that also leaves dγ and dβ in the shared state,
// and two ops reading them that depend on the dx node, so that the tape runs them after it.
func (op *bnOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("%s: SymDiff wants 3 inputs, got %d", op, len(inputs))
	}
	args := G.Nodes{inputs[0], inputs[1], grad}
	if op.s.relu {
		args = G.Nodes{inputs[0], inputs[1], output, grad}
	}
	dx, err := G.ApplyOp(&bnGradOp{s: op.s}, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: dx: %w", op, err)
	}
	dg, err := G.ApplyOp(&bnParamGradOp{s: op.s, beta: false}, dx)
	if err != nil {
		return nil, fmt.Errorf("%s: dgamma: %w", op, err)
	}
	db, err := G.ApplyOp(&bnParamGradOp{s: op.s, beta: true}, dx)
	if err != nil {
		return nil, fmt.Errorf("%s: dbeta: %w", op, err)
	}
	return G.Nodes{dx, dg, db}, nil
}

// ---------------------------------------------------------------- dx op: (x, γ, [y,] dy) -> dx

type bnGradOp struct {
	pure
	s   *bnShared
	out outBuf
}

func (op *bnGradOp) Arity() int {
	if op.s.relu {
		return 4
	}
	return 3
}
func (op *bnGradOp) Type() hm.Type {
	n := op.s.xShape.Dims()
	if op.s.relu {
		return hm.NewFnType(tensorType(n), tensorType(op.s.gShape.Dims()), tensorType(n), tensorType(n), tensorType(n))
	}
	return hm.NewFnType(tensorType(n), tensorType(op.s.gShape.Dims()), tensorType(n), tensorType(n))
}
func (op *bnGradOp) String() string                                 { return op.s.name() + "Dx" }
func (op *bnGradOp) WriteHash(h hash.Hash)                          { writeHash(h, op) }
func (op *bnGradOp) Hashcode() uint32                               { return hashOf(op) }
func (op *bnGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.s.xShape.Clone(), nil }
func (op *bnGradOp) Do(vals ...G.Value) (G.Value, error) {
	return op.run(op.out.get(op.s.dt, op.s.xShape), vals)
}
func (op *bnGradOp) UsePreallocDo(p G.Value, vals ...G.Value) (G.Value, error) {
	out, err := prealloc(p, op.s.xShape, op.s.dt, vals, op.String())
	if err != nil {
		return nil, err
	}
	return op.run(out, vals)
}
func (op *bnGradOp) run(out *tensor.Dense, vals []G.Value) (G.Value, error) {
	s, what := op.s, op.String()
	if len(vals) != op.Arity() {
		return nil, fmt.Errorf("%s: want %d inputs, got %d", what, op.Arity(), len(vals))
	}
	if !s.fwdRan {
		return nil, fmt.Errorf("%s: gradient run before the forward pass", what)
	}
	x, err := input(vals, 0, s.xShape, s.dt, what)
	if err != nil {
		return nil, err
	}
	gamma, err := input(vals, 1, s.gShape, s.dt, what)
	if err != nil {
		return nil, err
	}
	var y *tensor.Dense
	if s.relu {
		if y, err = input(vals, 2, s.xShape, s.dt, what); err != nil {
			return nil, err
		}
	}
	dy, err := input(vals, len(vals)-1, s.xShape, s.dt, what)
	if err != nil {
		return nil, err
	}
	if s.dt == tensor.Float32 {
		var yd []float32
		if y != nil {
			yd = dataOf[float32](y)
		}
		bnBackward(s, dataOf[float32](x), dataOf[float32](gamma), yd, dataOf[float32](dy), dataOf[float32](out))
	} else {
		var yd []float64
		if y != nil {
			yd = dataOf[float64](y)
		}
		bnBackward(s, dataOf[float64](x), dataOf[float64](gamma), yd, dataOf[float64](dy), dataOf[float64](out))
	}
	s.dxRan = true
	return out, nil
}
func (op *bnGradOp) DiffWRT(n int) []bool { return bools(n, false) }
func (op *bnGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, noSecondDerivative(op.String())
}

// ---------------------------------------------------------------- dγ / dβ ops: (dx) -> dγ or dβ

type bnParamGradOp struct {
	pure
	s    *bnShared
	beta bool
	out  outBuf
}

func (op *bnParamGradOp) shape() tensor.Shape {
	if op.beta {
		return op.s.bShape
	}
	return op.s.gShape
}
func (op *bnParamGradOp) Arity() int { return 1 }
func (op *bnParamGradOp) Type() hm.Type {
	return hm.NewFnType(tensorType(op.s.xShape.Dims()), tensorType(op.shape().Dims()))
}
func (op *bnParamGradOp) String() string {
	if op.beta {
		return op.s.name() + "Dbeta"
	}
	return op.s.name() + "Dgamma"
}
func (op *bnParamGradOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *bnParamGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *bnParamGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape().Clone(), nil
}
func (op *bnParamGradOp) Do(vals ...G.Value) (G.Value, error) {
	return op.run(op.out.get(op.s.dt, op.shape()), vals)
}
func (op *bnParamGradOp) UsePreallocDo(p G.Value, vals ...G.Value) (G.Value, error) {
	out, err := prealloc(p, op.shape(), op.s.dt, vals, op.String())
	if err != nil {
		return nil, err
	}
	return op.run(out, vals)
}
func (op *bnParamGradOp) run(out *tensor.Dense, vals []G.Value) (G.Value, error) {
	if len(vals) != 1 {
		return nil, fmt.Errorf("%s: want 1 input (dx), got %d", op, len(vals))
	}
	if !op.s.dxRan {
		return nil, fmt.Errorf("%s: run before the dx op", op)
	}
	src := op.s.dgamma
	if op.beta {
		src = op.s.dbeta
	}
	if op.s.dt == tensor.Float32 {
		d := dataOf[float32](out)
		for i, v := range src {
			d[i] = float32(v)
		}
	} else {
		copy(dataOf[float64](out), src)
	}
	return out, nil
}
func (op *bnParamGradOp) DiffWRT(int) []bool { return []bool{false} }
func (op *bnParamGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, noSecondDerivative(op.String())
}

// ---------------------------------------------------------------- kernels

// rowSums returns Σ(x-shift) and Σ(x-shift)² over one row, in T; float32 uses rowSums32.
func rowSums[T float](x []T, shift T) (s1, s2 T) {
	if isF32[T]() {
		a, b := rowSums32(f32s(x), float32(shift))
		return T(a), T(b)
	}
	return rowSumsGo(x, shift)
}

// rowSumsGo is rowSums in Go with four accumulators (the reference and fallback).
func rowSumsGo[T float](x []T, shift T) (s1, s2 T) {
	var a0, a1, a2, a3, b0, b1, b2, b3 T
	i := 0
	for ; i+4 <= len(x); i += 4 {
		r := x[i : i+4 : i+4]
		d0, d1, d2, d3 := r[0]-shift, r[1]-shift, r[2]-shift, r[3]-shift
		a0 += d0
		a1 += d1
		a2 += d2
		a3 += d3
		b0 += d0 * d0
		b1 += d1 * d1
		b2 += d2 * d2
		b3 += d3 * d3
	}
	for ; i < len(x); i++ {
		d := x[i] - shift
		a0 += d
		b0 += d * d
	}
	return (a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3)
}

// gradSums returns Σg and Σg·(x-m) over one row, in T; float32 uses gradSums32.
func gradSums[T float](g, x []T, m T) (s1, s2 T) {
	x = x[:len(g)]
	if isF32[T]() {
		a, b := gradSums32(f32s(g), f32s(x), float32(m))
		return T(a), T(b)
	}
	return gradSumsGo(g, x, m)
}

// gradSumsGo is gradSums in Go with four accumulators (the reference and fallback).
func gradSumsGo[T float](g, x []T, m T) (s1, s2 T) {
	x = x[:len(g)]
	var a0, a1, a2, a3, b0, b1, b2, b3 T
	i := 0
	for ; i+4 <= len(g); i += 4 {
		gg, xx := g[i:i+4:i+4], x[i:i+4:i+4]
		a0 += gg[0]
		a1 += gg[1]
		a2 += gg[2]
		a3 += gg[3]
		b0 += gg[0] * (xx[0] - m)
		b1 += gg[1] * (xx[1] - m)
		b2 += gg[2] * (xx[2] - m)
		b3 += gg[3] * (xx[3] - m)
	}
	for ; i < len(g); i++ {
		a0 += g[i]
		b0 += g[i] * (x[i] - m)
	}
	return (a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3)
}

// affineRow computes y = a·x + b, or max(a·x + b, 0) when relu; float32 uses affineRow32 and
// affineReluRow32.
func affineRow[T float](x, y []T, a, b T, relu bool) {
	y = y[:len(x)]
	if isF32[T]() {
		if relu {
			affineReluRow32(f32s(x), f32s(y), float32(a), float32(b))
		} else {
			affineRow32(f32s(x), f32s(y), float32(a), float32(b))
		}
		return
	}
	affineRowGo(x, y, a, b, relu)
}

// affineRowGo is affineRow in Go (the reference and fallback).
func affineRowGo[T float](x, y []T, a, b T, relu bool) {
	y = y[:len(x)]
	if relu {
		for i, v := range x {
			y[i] = max(v*a+b, 0)
		}
		return
	}
	for i, v := range x {
		y[i] = v*a + b
	}
}

func bnForward[T float](s *bnShared, x, gamma, beta, y []T) error {
	st := s.st
	rm, err := vecOf[T](st.Mean, s.C, "BNStats.Mean")
	if err != nil {
		return err
	}
	rv, err := vecOf[T](st.Var, s.C, "BNStats.Var")
	if err != nil {
		return err
	}
	B, C, hw := s.B, s.C, s.HW
	n := float64(B * hw)
	training := st.Training
	if training && n < 2 {
		return fmt.Errorf("training mode needs more than one value per channel, x is %v", s.xShape)
	}
	eps, mom := st.Eps, st.Momentum
	parallelEach(C, workersFor(C), func(_, c int) {
		var mean, invstd float64
		if training {
			shift := x[c*hw]
			var s1, s2 float64
			for b := 0; b < B; b++ {
				a1, a2 := rowSums(x[(b*C+c)*hw:(b*C+c+1)*hw], shift)
				s1 += float64(a1)
				s2 += float64(a2)
			}
			m1 := s1 / n
			mean = float64(shift) + m1
			v := max(s2/n-m1*m1, 0)
			invstd = 1 / math.Sqrt(v+eps)
			rm[c] = T((1-mom)*float64(rm[c]) + mom*mean)
			rv[c] = T((1-mom)*float64(rv[c]) + mom*v*n/(n-1))
		} else {
			mean = float64(rm[c])
			invstd = 1 / math.Sqrt(float64(rv[c])+eps)
		}
		s.mean[c], s.invstd[c] = mean, invstd
		a := float64(gamma[c]) * invstd
		b0 := float64(beta[c]) - mean*a
		for b := 0; b < B; b++ {
			affineRow(x[(b*C+c)*hw:(b*C+c+1)*hw], y[(b*C+c)*hw:(b*C+c+1)*hw], T(a), T(b0), s.relu)
		}
	})
	s.training = training
	s.fwdRan = true
	return nil
}

func bnBackward[T float](s *bnShared, x, gamma, y, dy, dx []T) {
	B, C, hw := s.B, s.C, s.HW
	n := float64(B * hw)
	training := s.training
	parallelEach(C, workersFor(C), func(_, c int) {
		mean, invstd := s.mean[c], s.invstd[c]
		m := T(mean)
		var s1, s2 float64
		for b := 0; b < B; b++ {
			r := (b*C + c) * hw
			var a1, a2 T
			if s.relu {
				a1, a2 = maskedGradSums(y[r:r+hw], dy[r:r+hw], x[r:r+hw], m)
			} else {
				a1, a2 = gradSums(dy[r:r+hw], x[r:r+hw], m)
			}
			s1 += float64(a1)
			s2 += float64(a2)
		}
		s.dbeta[c] = s1
		s.dgamma[c] = s2 * invstd
		k := float64(gamma[c]) * invstd
		kg, kx, k0 := T(k), T(0), T(0)
		if training {
			// dx = k·(g - s1/n - (x-mean)·invstd²·s2/n) = k·g + kx·x + k0
			kxf := -k * invstd * invstd * s2 / n
			kx, k0 = T(kxf), T(-k*s1/n-kxf*mean)
		}
		for b := 0; b < B; b++ {
			r := (b*C + c) * hw
			if s.relu {
				maskedBnDxRow(y[r:r+hw], dy[r:r+hw], x[r:r+hw], dx[r:r+hw], kg, kx, k0)
			} else {
				bnDxRow(dy[r:r+hw], x[r:r+hw], dx[r:r+hw], kg, kx, k0)
			}
		}
	})
}

// bnDxRow computes d = kg·g + kx·x + k0; float32 uses bnDxRow32.
func bnDxRow[T float](g, x, d []T, kg, kx, k0 T) {
	x, d = x[:len(g)], d[:len(g)]
	if isF32[T]() {
		bnDxRow32(f32s(g), f32s(x), f32s(d), float32(kg), float32(kx), float32(k0))
		return
	}
	bnDxRowGo(g, x, d, kg, kx, k0)
}

// bnDxRowGo is bnDxRow in Go (the reference and fallback).
func bnDxRowGo[T float](g, x, d []T, kg, kx, k0 T) {
	x, d = x[:len(g)], d[:len(g)]
	for i, v := range g {
		d[i] = kg*v + kx*x[i] + k0
	}
}

// maskedGradSums returns Σg and Σg·(x-m) for g = dy·[y>0] (y a ReLU output), branch-free.
func maskedGradSums[T float](y, dy, x []T, m T) (s1, s2 T) {
	if isF32[T]() {
		dy, x = dy[:len(y)], x[:len(y)]
		a, b := maskedGradSums32(f32s(y), f32s(dy), f32s(x), float32(m))
		return T(a), T(b)
	}
	a, b := maskedGradSums64(f64s(y), f64s(dy), f64s(x), float64(m))
	return T(a), T(b)
}

// maskedGradSums32Go is the Go reference and fallback of the SIMD maskedGradSums32.
func maskedGradSums32Go(y, dy, x []float32, m float32) (s1, s2 float32) {
	dy, x = dy[:len(y)], x[:len(y)]
	var a0, a1, b0, b1 float32
	i := 0
	for ; i+2 <= len(y); i += 2 {
		u0, u1 := math.Float32bits(y[i]), math.Float32bits(y[i+1])
		g0 := math.Float32frombits(math.Float32bits(dy[i]) & uint32(int32(u0|-u0)>>31))
		g1 := math.Float32frombits(math.Float32bits(dy[i+1]) & uint32(int32(u1|-u1)>>31))
		a0 += g0
		a1 += g1
		b0 += g0 * (x[i] - m)
		b1 += g1 * (x[i+1] - m)
	}
	for ; i < len(y); i++ {
		u := math.Float32bits(y[i])
		g := math.Float32frombits(math.Float32bits(dy[i]) & uint32(int32(u|-u)>>31))
		a0 += g
		b0 += g * (x[i] - m)
	}
	return a0 + a1, b0 + b1
}

func maskedGradSums64(y, dy, x []float64, m float64) (s1, s2 float64) {
	dy, x = dy[:len(y)], x[:len(y)]
	var a0, b0 float64
	for i := range y {
		u := math.Float64bits(y[i])
		g := math.Float64frombits(math.Float64bits(dy[i]) & uint64(int64(u|-u)>>63))
		a0 += g
		b0 += g * (x[i] - m)
	}
	return a0, b0
}

// maskedBnDxRow computes d = kg·dy·[y>0] + kx·x + k0, branch-free.
func maskedBnDxRow[T float](y, dy, x, d []T, kg, kx, k0 T) {
	if isF32[T]() {
		dy, x, d = dy[:len(y)], x[:len(y)], d[:len(y)]
		maskedBnDxRow32(f32s(y), f32s(dy), f32s(x), f32s(d), float32(kg), float32(kx), float32(k0))
		return
	}
	y64, dy64, x64, d64 := f64s(y), f64s(dy), f64s(x), f64s(d)
	dy64, x64, d64 = dy64[:len(y64)], x64[:len(y64)], d64[:len(y64)]
	a, b, c := float64(kg), float64(kx), float64(k0)
	for i := range y64 {
		u := math.Float64bits(y64[i])
		g := math.Float64frombits(math.Float64bits(dy64[i]) & uint64(int64(u|-u)>>63))
		d64[i] = a*g + b*x64[i] + c
	}
}

// maskedBnDxRow32Go is the Go reference and fallback of the SIMD maskedBnDxRow32.
func maskedBnDxRow32Go(y, dy, x, d []float32, a, b, c float32) {
	dy, x, d = dy[:len(y)], x[:len(y)], d[:len(y)]
	for i := range y {
		u := math.Float32bits(y[i])
		g := math.Float32frombits(math.Float32bits(dy[i]) & uint32(int32(u|-u)>>31))
		d[i] = a*g + b*x[i] + c
	}
}
