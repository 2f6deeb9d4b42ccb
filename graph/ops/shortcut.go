package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ShortcutA returns the parameter-free "option A" shortcut of He et al. (2016) for CIFAR ResNets:
// x, of shape (B,C,H,W), subsampled with the given stride and zero-padded along channels to outC:
//
//	y[b, lo+c, i, j] = x[b, c, i·stride, j·stride],  y = 0 on the other channels,
//
// with lo = (outC-C)/2 zero channels before and outC-C-lo after; y has shape
// (B, outC, ceil(H/stride), ceil(W/stride)). This matches the common PyTorch reproduction
// F.pad(x[:, :, ::2, ::2], (0,0,0,0,p,p)). The gradient is the adjoint scatter:
// dx[b,c,i·stride,j·stride] = dy[b,lo+c,i,j] and dx = 0 at the positions not sampled.
func ShortcutA(x *G.Node, stride, outC int) (*G.Node, error) {
	const what = "ops.ShortcutA"
	if x == nil {
		return nil, fmt.Errorf("%s: nil input node", what)
	}
	xs := x.Shape()
	if xs.Dims() != 4 || xs.TotalSize() == 0 {
		return nil, fmt.Errorf("%s: x has shape %v, want (B,C,H,W)", what, xs)
	}
	if stride < 1 || outC < xs[1] {
		return nil, fmt.Errorf("%s: invalid stride %d or output channels %d for x %v (want stride >= 1, outC >= C)", what, stride, outC, xs)
	}
	dt, err := nodeDtype(x, what)
	if err != nil {
		return nil, err
	}
	g := shortcutGeom{B: xs[0], C: xs[1], H: xs[2], W: xs[3], S: stride, OC: outC,
		OH: ceilDiv(xs[2], stride), OW: ceilDiv(xs[3], stride), Lo: (outC - xs[1]) / 2}
	y, err := G.ApplyOp(&shortcutOp{g: g, dt: dt}, x)
	if err != nil {
		return nil, fmt.Errorf("%s: x %v: %w", what, xs, err)
	}
	return y, nil
}

type shortcutGeom struct {
	B, C, H, W int
	S, OC      int
	OH, OW, Lo int
}

func (g shortcutGeom) xShape() tensor.Shape { return tensor.Shape{g.B, g.C, g.H, g.W} }
func (g shortcutGeom) yShape() tensor.Shape { return tensor.Shape{g.B, g.OC, g.OH, g.OW} }

// shortcutOp is the forward op (grad false: x -> y) and its gradient op (grad true: dy -> dx).
type shortcutOp struct {
	pure
	g    shortcutGeom
	dt   tensor.Dtype
	grad bool
	out  outBuf
}

func (op *shortcutOp) inShape() tensor.Shape {
	if op.grad {
		return op.g.yShape()
	}
	return op.g.xShape()
}
func (op *shortcutOp) outShape() tensor.Shape {
	if op.grad {
		return op.g.xShape()
	}
	return op.g.yShape()
}
func (op *shortcutOp) Arity() int    { return 1 }
func (op *shortcutOp) Type() hm.Type { return hm.NewFnType(tensorType(4), tensorType(4)) }
func (op *shortcutOp) String() string {
	n := "ShortcutA"
	if op.grad {
		n = "ShortcutAGrad"
	}
	return fmt.Sprintf("%s s%d x%v->y%v", n, op.g.S, op.g.xShape(), op.g.yShape())
}
func (op *shortcutOp) WriteHash(h hash.Hash)                          { writeHash(h, op) }
func (op *shortcutOp) Hashcode() uint32                               { return hashOf(op) }
func (op *shortcutOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.outShape(), nil }
func (op *shortcutOp) Do(vals ...G.Value) (G.Value, error) {
	return op.run(op.out.get(op.dt, op.outShape()), vals)
}
func (op *shortcutOp) UsePreallocDo(p G.Value, vals ...G.Value) (G.Value, error) {
	out, err := prealloc(p, op.outShape(), op.dt, vals, op.String())
	if err != nil {
		return nil, err
	}
	return op.run(out, vals)
}
func (op *shortcutOp) run(out *tensor.Dense, vals []G.Value) (G.Value, error) {
	what := op.String()
	if len(vals) != 1 {
		return nil, fmt.Errorf("%s: want 1 input, got %d", what, len(vals))
	}
	in, err := input(vals, 0, op.inShape(), op.dt, what)
	if err != nil {
		return nil, err
	}
	if op.dt == tensor.Float32 {
		shortcutKernel(op.g, op.grad, dataOf[float32](in), dataOf[float32](out))
	} else {
		shortcutKernel(op.g, op.grad, dataOf[float64](in), dataOf[float64](out))
	}
	return out, nil
}
func (op *shortcutOp) DiffWRT(int) []bool { return []bool{!op.grad} }
func (op *shortcutOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if op.grad {
		return nil, noSecondDerivative(op.String())
	}
	d, err := G.ApplyOp(&shortcutOp{g: op.g, dt: op.dt, grad: true}, grad)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return G.Nodes{d}, nil
}

// shortcutKernel computes the forward map (grad false: in = x, out = y) or its adjoint
// (grad true: in = dy, out = dx).
func shortcutKernel[T float](g shortcutGeom, grad bool, in, out []T) {
	hw, ohw := g.H*g.W, g.OH*g.OW
	parallelMin(g.B, 1, func(_, lo, hi int) {
		for b := lo; b < hi; b++ {
			if !grad {
				yb := out[b*g.OC*ohw : (b+1)*g.OC*ohw]
				clear(yb[:g.Lo*ohw])
				clear(yb[(g.Lo+g.C)*ohw:])
			}
			for c := 0; c < g.C; c++ {
				xp := b*g.C*hw + c*hw
				yp := (b*g.OC + g.Lo + c) * ohw
				var xpl, ypl []T
				if grad {
					xpl, ypl = out[xp:xp+hw], in[yp:yp+ohw]
				} else {
					xpl, ypl = in[xp:xp+hw], out[yp:yp+ohw]
				}
				if g.S == 1 {
					if grad {
						copy(xpl, ypl)
					} else {
						copy(ypl, xpl)
					}
					continue
				}
				if !grad && g.S == 2 && isF32[T]() { // CIFAR's shortcuts: a plane at a time
					gatherEvenRows(f32s(ypl), g.OW, f32s(xpl), 2*g.W, g.OH, g.OW)
					continue
				}
				if grad {
					clear(xpl)
				}
				for i := 0; i < g.OH; i++ {
					xr, yr := xpl[i*g.S*g.W:], ypl[i*g.OW:(i+1)*g.OW]
					if grad {
						xr = xr[:g.S*(len(yr)-1)+1]
						for j, v := range yr {
							xr[j*g.S] = v
						}
					} else {
						gatherStrided(yr, xr, g.S)
					}
				}
			}
		}
	})
}
