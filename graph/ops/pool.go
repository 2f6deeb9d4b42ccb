package ops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MaxPool2d returns the k x k max pooling of x, of shape (B,C,H,W), with the given stride and
// symmetric padding (0 <= pad <= k/2, as PyTorch requires); padded positions act as -∞, so they
// never win. The output has shape (B,C,OH,OW) with OH = (H+2·pad-k)/stride + 1 (floor), and
//
//	y[b,c,i,j] = max_{u,v < k} x[b,c, i·stride+u-pad, j·stride+v-pad]   (over positions inside x)
//
// The forward pass records the position of each maximum (the first one in row-major window
// order on ties, and a NaN wins, as PyTorch); the gradient routes dy[b,c,i,j] to that position
// (dx is the sum over the windows whose maximum it was).
func MaxPool2d(x *G.Node, k, stride, pad int) (*G.Node, error) {
	const what = "ops.MaxPool2d"
	if x == nil {
		return nil, fmt.Errorf("%s: nil input node", what)
	}
	xs := x.Shape()
	if xs.Dims() != 4 {
		return nil, fmt.Errorf("%s: x has shape %v, want (B,C,H,W)", what, xs)
	}
	if k < 1 || stride < 1 || pad < 0 || pad > k/2 {
		return nil, fmt.Errorf("%s: invalid kernel %d, stride %d or padding %d (want 0 <= pad <= k/2) for x %v", what, k, stride, pad, xs)
	}
	dt, err := nodeDtype(x, what)
	if err != nil {
		return nil, err
	}
	g := poolGeom{B: xs[0], C: xs[1], H: xs[2], W: xs[3], K: k, S: stride, P: pad}
	oh, ow := g.H+2*pad-k, g.W+2*pad-k
	if oh < 0 || ow < 0 || xs.TotalSize() == 0 {
		return nil, fmt.Errorf("%s: kernel %d larger than padded input %v (padding %d)", what, k, xs, pad)
	}
	g.OH, g.OW = oh/stride+1, ow/stride+1
	s := &poolShared{geom: g, dt: dt}
	y, err := G.ApplyOp(&maxPoolOp{s: s}, x)
	if err != nil {
		return nil, fmt.Errorf("%s: x %v: %w", what, xs, err)
	}
	return y, nil
}

type poolGeom struct {
	B, C, H, W int
	K, S, P    int
	OH, OW     int
}

func (g poolGeom) xShape() tensor.Shape { return tensor.Shape{g.B, g.C, g.H, g.W} }
func (g poolGeom) yShape() tensor.Shape { return tensor.Shape{g.B, g.C, g.OH, g.OW} }

// poolShared is the state shared by a max-pool op and its gradient op: the argmax positions.
type poolShared struct {
	geom   poolGeom
	dt     tensor.Dtype
	argmax []int32 // per output element, the index within its input plane
	grad   bool    // a gradient op exists: the forward pass records argmax (inference skips it)
	fwdRan bool
}

func (s *poolShared) name() string {
	g := s.geom
	return fmt.Sprintf("MaxPool2d@%p k%d s%d p%d x%v", s, g.K, g.S, g.P, g.xShape())
}

type maxPoolOp struct {
	pure
	s   *poolShared
	out outBuf
}

func (op *maxPoolOp) Arity() int                                     { return 1 }
func (op *maxPoolOp) Type() hm.Type                                  { return hm.NewFnType(tensorType(4), tensorType(4)) }
func (op *maxPoolOp) String() string                                 { return op.s.name() }
func (op *maxPoolOp) WriteHash(h hash.Hash)                          { writeHash(h, op) }
func (op *maxPoolOp) Hashcode() uint32                               { return hashOf(op) }
func (op *maxPoolOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.s.geom.yShape(), nil }
func (op *maxPoolOp) Do(vals ...G.Value) (G.Value, error) {
	return op.run(op.out.get(op.s.dt, op.s.geom.yShape()), vals)
}
func (op *maxPoolOp) UsePreallocDo(p G.Value, vals ...G.Value) (G.Value, error) {
	out, err := prealloc(p, op.s.geom.yShape(), op.s.dt, vals, op.String())
	if err != nil {
		return nil, err
	}
	return op.run(out, vals)
}
func (op *maxPoolOp) run(out *tensor.Dense, vals []G.Value) (G.Value, error) {
	s, what := op.s, op.String()
	if len(vals) != 1 {
		return nil, fmt.Errorf("%s: want 1 input, got %d", what, len(vals))
	}
	x, err := input(vals, 0, s.geom.xShape(), s.dt, what)
	if err != nil {
		return nil, err
	}
	var argmax []int32
	if s.grad {
		if n := s.geom.yShape().TotalSize(); len(s.argmax) != n {
			s.argmax = make([]int32, n)
		}
		argmax = s.argmax
	}
	if s.dt == tensor.Float32 {
		maxPoolForward(s.geom, dataOf[float32](x), dataOf[float32](out), argmax)
	} else {
		maxPoolForward(s.geom, dataOf[float64](x), dataOf[float64](out), argmax)
	}
	s.fwdRan = s.grad
	return out, nil
}
func (op *maxPoolOp) DiffWRT(int) []bool { return []bool{true} }
func (op *maxPoolOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	op.s.grad = true
	d, err := G.ApplyOp(&maxPoolGradOp{s: op.s}, grad)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return G.Nodes{d}, nil
}

// maxPoolGradOp: dy -> dx, scattering dy to the recorded argmax positions.
type maxPoolGradOp struct {
	pure
	s   *poolShared
	out outBuf
}

func (op *maxPoolGradOp) Arity() int            { return 1 }
func (op *maxPoolGradOp) Type() hm.Type         { return hm.NewFnType(tensorType(4), tensorType(4)) }
func (op *maxPoolGradOp) String() string        { return op.s.name() + "Grad" }
func (op *maxPoolGradOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *maxPoolGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *maxPoolGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.s.geom.xShape(), nil
}
func (op *maxPoolGradOp) Do(vals ...G.Value) (G.Value, error) {
	return op.run(op.out.get(op.s.dt, op.s.geom.xShape()), vals)
}
func (op *maxPoolGradOp) UsePreallocDo(p G.Value, vals ...G.Value) (G.Value, error) {
	out, err := prealloc(p, op.s.geom.xShape(), op.s.dt, vals, op.String())
	if err != nil {
		return nil, err
	}
	return op.run(out, vals)
}
func (op *maxPoolGradOp) run(out *tensor.Dense, vals []G.Value) (G.Value, error) {
	s, what := op.s, op.String()
	if len(vals) != 1 {
		return nil, fmt.Errorf("%s: want 1 input (dy), got %d", what, len(vals))
	}
	if !s.fwdRan {
		return nil, fmt.Errorf("%s: gradient run before the forward pass", what)
	}
	dy, err := input(vals, 0, s.geom.yShape(), s.dt, what)
	if err != nil {
		return nil, err
	}
	if s.dt == tensor.Float32 {
		maxPoolBackward(s.geom, dataOf[float32](dy), dataOf[float32](out), s.argmax)
	} else {
		maxPoolBackward(s.geom, dataOf[float64](dy), dataOf[float64](out), s.argmax)
	}
	return out, nil
}
func (op *maxPoolGradOp) DiffWRT(int) []bool { return []bool{false} }
func (op *maxPoolGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, noSecondDerivative(op.String())
}

func maxPoolForward[T float](g poolGeom, x, y []T, argmax []int32) {
	hw, ohw := g.H*g.W, g.OH*g.OW
	parallelMin(g.B*g.C, 4, func(_, lo, hi int) {
		var col [maxPoolCols]T
		for pl := lo; pl < hi; pl++ {
			xp, yp := x[pl*hw:(pl+1)*hw], y[pl*ohw:(pl+1)*ohw]
			var ap []int32
			if argmax != nil {
				ap = argmax[pl*ohw : (pl+1)*ohw]
			}
			if g.W <= len(col) {
				maxPoolPlane(g, xp, yp, ap, col[:g.W])
				continue
			}
			for i := 0; i < g.OH; i++ {
				for j := 0; j < g.OW; j++ {
					best, arg := maxPoolWindow(g, xp, i, j)
					yp[i*g.OW+j] = best
					if ap != nil {
						ap[i*g.OW+j] = int32(arg)
					}
				}
			}
		}
	})
}

// maxPoolCols bounds the input width of maxPoolPlane's column maxima, kept on the stack.
const maxPoolCols = 512

// maxPoolPlane is the forward pass of one plane, with the argmax when ap is not nil. Each output
// row takes the maxima of its window's input rows column by column first, then the windows of
// that row: the builtin max, branch-free, in place of a loop per window (ResNet-18's stem pool,
// 112x112 into 56x56, was 6% of an inference step and 5% of a training step). The builtin max
// gives the exact loop's value but for the sign of a zero maximum and a NaN's payload; those
// windows take the exact loop. Otherwise the argmax is the window's first value equal to the
// maximum, as the exact loop finds it.
func maxPoolPlane[T float](g poolGeom, xp, yp []T, ap []int32, col []T) {
	for i := 0; i < g.OH; i++ {
		y0 := max(i*g.S-g.P, 0)
		y1 := min(i*g.S-g.P+g.K, g.H)
		copy(col, xp[y0*g.W:(y0+1)*g.W])
		for u := y0 + 1; u < y1; u++ {
			row := xp[u*g.W : (u+1)*g.W]
			for v := range col {
				col[v] = max(col[v], row[v])
			}
		}
		out := yp[i*g.OW : (i+1)*g.OW]
		for j := range out {
			x0 := max(j*g.S-g.P, 0)
			x1 := min(j*g.S-g.P+g.K, g.W)
			best := col[x0]
			for _, v := range col[x0+1 : x1] {
				best = max(best, v)
			}
			if best == 0 || best != best {
				var arg int
				best, arg = maxPoolWindow(g, xp, i, j)
				if ap != nil {
					ap[i*g.OW+j] = int32(arg)
				}
			} else if ap != nil {
				ap[i*g.OW+j] = int32(maxPoolFind(g, xp, y0, y1, x0, x1, best))
			}
			out[j] = best
		}
	}
}

// maxPoolFind returns the index in the plane of the first value equal to v in rows [y0,y1) and
// columns [x0,x1), in row-major order (v is in there).
func maxPoolFind[T float](g poolGeom, xp []T, y0, y1, x0, x1 int, v T) int {
	for u := y0; u < y1; u++ {
		for k, e := range xp[u*g.W+x0 : u*g.W+x1] {
			if e == v {
				return u*g.W + x0 + k
			}
		}
	}
	return y0*g.W + x0 // not reached
}

// maxPoolWindow returns the maximum of output (i, j)'s window and its index in the plane: the
// first of the window's largest values in row-major order, or a NaN when it holds one.
func maxPoolWindow[T float](g poolGeom, xp []T, i, j int) (T, int) {
	y0, y1 := max(i*g.S-g.P, 0), min(i*g.S-g.P+g.K, g.H)
	x0, x1 := max(j*g.S-g.P, 0), min(j*g.S-g.P+g.K, g.W)
	best, arg := T(math.Inf(-1)), y0*g.W+x0
	for u := y0; u < y1; u++ {
		row := xp[u*g.W : u*g.W+x1]
		for v := x0; v < x1; v++ {
			if val := row[v]; val > best || val != val {
				best, arg = val, u*g.W+v
			}
		}
	}
	return best, arg
}

func maxPoolBackward[T float](g poolGeom, dy, dx []T, argmax []int32) {
	hw, ohw := g.H*g.W, g.OH*g.OW
	parallelMin(g.B*g.C, 4, func(_, lo, hi int) {
		clear(dx[lo*hw : hi*hw])
		for pl := lo; pl < hi; pl++ {
			dxp, dyp, ap := dx[pl*hw:(pl+1)*hw], dy[pl*ohw:(pl+1)*ohw], argmax[pl*ohw:(pl+1)*ohw]
			for i, a := range ap {
				dxp[a] += dyp[i]
			}
		}
	})
}

// ---------------------------------------------------------------- global average pooling

// GlobalAvgPool returns the mean of x, of shape (B,C,H,W), over its spatial axes, of shape (B,C):
//
//	y[b,c] = (1/(H·W)) Σ_{i,j} x[b,c,i,j]      dx[b,c,i,j] = dy[b,c]/(H·W)
//
// (Gorgonia's GlobalAveragePool2D has no gradient, and G.Mean over the middle axes of an NCHW
// tensor is wrong in gorgonia.org/tensor v0.9.24.)
func GlobalAvgPool(x *G.Node) (*G.Node, error) {
	const what = "ops.GlobalAvgPool"
	if x == nil {
		return nil, fmt.Errorf("%s: nil input node", what)
	}
	xs := x.Shape()
	if xs.Dims() != 4 || xs.TotalSize() == 0 {
		return nil, fmt.Errorf("%s: x has shape %v, want (B,C,H,W)", what, xs)
	}
	dt, err := nodeDtype(x, what)
	if err != nil {
		return nil, err
	}
	y, err := G.ApplyOp(&gapOp{xShape: xs.Clone(), dt: dt}, x)
	if err != nil {
		return nil, fmt.Errorf("%s: x %v: %w", what, xs, err)
	}
	return y, nil
}

// gapOp is the forward op (grad false: x -> y) and the gradient op (grad true: dy -> dx).
type gapOp struct {
	pure
	xShape tensor.Shape
	dt     tensor.Dtype
	grad   bool
	out    outBuf
}

func (op *gapOp) yShape() tensor.Shape { return tensor.Shape{op.xShape[0], op.xShape[1]} }
func (op *gapOp) inShape() tensor.Shape {
	if op.grad {
		return op.yShape()
	}
	return op.xShape
}
func (op *gapOp) outShape() tensor.Shape {
	if op.grad {
		return op.xShape
	}
	return op.yShape()
}
func (op *gapOp) Arity() int { return 1 }
func (op *gapOp) Type() hm.Type {
	if op.grad {
		return hm.NewFnType(tensorType(2), tensorType(4))
	}
	return hm.NewFnType(tensorType(4), tensorType(2))
}
func (op *gapOp) String() string {
	if op.grad {
		return fmt.Sprintf("GlobalAvgPoolGrad%v", op.xShape)
	}
	return fmt.Sprintf("GlobalAvgPool%v", op.xShape)
}
func (op *gapOp) WriteHash(h hash.Hash)                          { writeHash(h, op) }
func (op *gapOp) Hashcode() uint32                               { return hashOf(op) }
func (op *gapOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.outShape(), nil }
func (op *gapOp) Do(vals ...G.Value) (G.Value, error) {
	return op.run(op.out.get(op.dt, op.outShape()), vals)
}
func (op *gapOp) UsePreallocDo(p G.Value, vals ...G.Value) (G.Value, error) {
	out, err := prealloc(p, op.outShape(), op.dt, vals, op.String())
	if err != nil {
		return nil, err
	}
	return op.run(out, vals)
}
func (op *gapOp) run(out *tensor.Dense, vals []G.Value) (G.Value, error) {
	what := op.String()
	if len(vals) != 1 {
		return nil, fmt.Errorf("%s: want 1 input, got %d", what, len(vals))
	}
	in, err := input(vals, 0, op.inShape(), op.dt, what)
	if err != nil {
		return nil, err
	}
	planes, hw := op.xShape[0]*op.xShape[1], op.xShape[2]*op.xShape[3]
	if op.dt == tensor.Float32 {
		gapKernel(op.grad, planes, hw, dataOf[float32](in), dataOf[float32](out))
	} else {
		gapKernel(op.grad, planes, hw, dataOf[float64](in), dataOf[float64](out))
	}
	return out, nil
}
func (op *gapOp) DiffWRT(int) []bool { return []bool{!op.grad} }
func (op *gapOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if op.grad {
		return nil, noSecondDerivative(op.String())
	}
	d, err := G.ApplyOp(&gapOp{xShape: op.xShape, dt: op.dt, grad: true}, grad)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return G.Nodes{d}, nil
}

func gapKernel[T float](grad bool, planes, hw int, in, out []T) {
	inv := 1 / float64(hw)
	parallelMin(planes, 256, func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			if grad {
				v := T(float64(in[p]) * inv)
				d := out[p*hw : (p+1)*hw]
				for i := range d {
					d[i] = v
				}
				continue
			}
			s, _ := rowSums(in[p*hw:(p+1)*hw], 0)
			out[p] = T(float64(s) * inv)
		}
	})
}
