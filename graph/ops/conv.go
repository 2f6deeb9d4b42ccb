package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ConvParams are the settings of a 2-D convolution: the stride and the symmetric zero padding
// along each spatial axis (H, then W). Strides must be >= 1 and paddings >= 0. NoInputGrad skips
// the gradient with respect to the input x (use it for the network's input layer, whose input
// needs no gradient): the operator then reports itself as differentiable only with respect to w.
type ConvParams struct {
	StrideH, StrideW, PadH, PadW int
	NoInputGrad                  bool
}

// convGeom is the fixed geometry of one convolution.
type convGeom struct {
	B, C, H, W     int // input
	O, KH, KW      int // filter
	SH, SW, PH, PW int // stride, padding
	OH, OW         int // output
}

func (g convGeom) K() int   { return g.C * g.KH * g.KW }
func (g convGeom) OHW() int { return g.OH * g.OW }
func (g convGeom) CHW() int { return g.C * g.H * g.W }

// direct is true when the column matrix of an image is the image itself (1x1, stride 1, pad 0).
func (g convGeom) direct() bool {
	return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PH == 0 && g.PW == 0
}

// shifted is true when every column-matrix row is the image plane shifted by a constant linear
// offset (stride 1, output size = input size), so im2col/col2im can move whole blocks.
func (g convGeom) shifted() bool { return g.SH == 1 && g.SW == 1 && g.OW == g.W && g.OH == g.H }

func (g convGeom) xShape() tensor.Shape { return tensor.Shape{g.B, g.C, g.H, g.W} }
func (g convGeom) wShape() tensor.Shape { return tensor.Shape{g.O, g.C, g.KH, g.KW} }
func (g convGeom) yShape() tensor.Shape { return tensor.Shape{g.B, g.O, g.OH, g.OW} }

func (g convGeom) String() string {
	return fmt.Sprintf("%dx%d/s(%d,%d)/p(%d,%d) x(%d,%d,%d,%d)->y(%d,%d,%d,%d)",
		g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.B, g.C, g.H, g.W, g.B, g.O, g.OH, g.OW)
}

// Conv2d returns the 2-D cross-correlation (a convolution in deep-learning usage, no bias) of
// x, of shape (B,C,H,W), with the filters w, of shape (O,C,KH,KW):
//
//	y[b,o,i,j] = Σ_{c,u,v} w[o,c,u,v] · x̃[b,c, i·SH+u-PH, j·SW+v-PW]
//
// where x̃ is x zero-padded by PH rows and PW columns on each side; y has shape (B,O,OH,OW),
// OH = (H+2·PH-KH)/SH + 1 and OW = (W+2·PW-KW)/SW + 1 (integer division). Any kernel size,
// stride and padding is accepted.
//
// It is computed per image as one matrix product Y_b = W·col(x_b), W viewed as O x K
// (K = C·KH·KW) and col(x_b) the K x OH·OW im2col matrix (x_b itself for 1x1 stride 1 pad 0),
// written straight into the NCHW output. The gradients are
//
//	dx_b = col2im(Wᵀ·dY_b)        dW = Σ_b dY_b · col(x_b)ᵀ
//
// computed by two gradient ops (dx is omitted when p.NoInputGrad is set). For stride 1 (and
// padding < kernel size) dx is computed instead as the equivalent stride-1 convolution of dY with
// the flipped, transposed filters, dx[c,i,j] = Σ_{o,u,v} w[o,c,KH-1-u,KW-1-v]·d̃y[o,i+u-(KH-1-PH),
// j+v-(KW-1-PW)], which replaces the transposed product and the scatter-add of col2im by an
// im2col copy and a plain product. Images are split across Workers() goroutines, which take
// the next image as they finish one (for a batch smaller than the worker count each image's
// work is split instead); column buffers are per worker and re-used across runs.
func Conv2d(x, w *G.Node, p ConvParams) (*G.Node, error) {
	return conv2d("ops.Conv2d", x, w, nil, p)
}

// Conv2dBias is Conv2d plus a bias per output channel, as PyTorch's nn.Conv2d with bias=True:
// bias has shape (O) and
//
//	y[b,o,i,j] = Σ_{c,u,v} w[o,c,u,v] · x̃[b,c, i·SH+u-PH, j·SW+v-PW] + bias[o]
//
// The forward op adds bias[o] to each output plane right after its matrix product (while the
// plane is in cache); the gradient with respect to the bias is a third gradient op,
//
//	dbias[o] = Σ_{b,i,j} dY[b,o,i,j]
//
// (the planes' sums added in float64). dx and dW are those of Conv2d.
func Conv2dBias(x, w, bias *G.Node, p ConvParams) (*G.Node, error) {
	const what = "ops.Conv2dBias"
	if bias == nil {
		return nil, fmt.Errorf("%s: nil bias node", what)
	}
	return conv2d(what, x, w, bias, p)
}

// conv2d is Conv2d, or Conv2dBias when bias is not nil.
func conv2d(what string, x, w, bias *G.Node, p ConvParams) (*G.Node, error) {
	if x == nil || w == nil {
		return nil, fmt.Errorf("%s: nil input node", what)
	}
	xs, ws := x.Shape(), w.Shape()
	if xs.Dims() != 4 || ws.Dims() != 4 {
		return nil, fmt.Errorf("%s: x %v and w %v must both be 4-D (B,C,H,W) and (O,C,KH,KW)", what, xs, ws)
	}
	if ws[1] != xs[1] {
		return nil, fmt.Errorf("%s: filter w %v has %d input channels, x %v has %d", what, ws, ws[1], xs, xs[1])
	}
	if p.StrideH < 1 || p.StrideW < 1 || p.PadH < 0 || p.PadW < 0 {
		return nil, fmt.Errorf("%s: invalid stride (%d,%d) or padding (%d,%d) for x %v, w %v", what, p.StrideH, p.StrideW, p.PadH, p.PadW, xs, ws)
	}
	for i, d := range xs {
		if d < 1 || ws[i] < 1 {
			return nil, fmt.Errorf("%s: x %v and w %v must have positive sizes", what, xs, ws)
		}
	}
	dt, err := nodeDtype(x, what)
	if err != nil {
		return nil, err
	}
	if wdt, err := nodeDtype(w, what); err != nil || wdt != dt {
		return nil, fmt.Errorf("%s: x is %v but w is %v", what, dt, wdt)
	}
	g := convGeom{B: xs[0], C: xs[1], H: xs[2], W: xs[3], O: ws[0], KH: ws[2], KW: ws[3],
		SH: p.StrideH, SW: p.StrideW, PH: p.PadH, PW: p.PadW}
	oh, ow := g.H+2*g.PH-g.KH, g.W+2*g.PW-g.KW
	if oh < 0 || ow < 0 {
		return nil, fmt.Errorf("%s: kernel %dx%d larger than padded input %v with padding (%d,%d)", what, g.KH, g.KW, xs, g.PH, g.PW)
	}
	g.OH, g.OW = oh/g.SH+1, ow/g.SW+1
	op := &convOp{geom: g, dt: dt, dx: !p.NoInputGrad}
	in := G.Nodes{x, w}
	if bias != nil {
		if bs := bias.Shape(); bs.Dims() != 1 || bs[0] != g.O {
			return nil, fmt.Errorf("%s: bias %v, want (%d) for w %v", what, bs, g.O, ws)
		}
		if bdt, err := nodeDtype(bias, what); err != nil || bdt != dt {
			return nil, fmt.Errorf("%s: x is %v but bias is %v", what, dt, bdt)
		}
		op.bias = true
		in = append(in, bias)
	}
	y, err := G.ApplyOp(op, in...)
	if err != nil {
		return nil, fmt.Errorf("%s: x %v, w %v: %w", what, xs, ws, err)
	}
	return y, nil
}

// ---------------------------------------------------------------- forward op: (x, w[, bias]) -> y

type convOp struct {
	pure
	geom convGeom
	dt   tensor.Dtype
	dx   bool
	bias bool // a third input, bias (O), is added to every output plane
	out  outBuf
	scr  scratch
}

func (op *convOp) Arity() int {
	if op.bias {
		return 3
	}
	return 2
}
func (op *convOp) Type() hm.Type {
	if op.bias {
		return hm.NewFnType(tensorType(4), tensorType(4), tensorType(1), tensorType(4))
	}
	return hm.NewFnType(tensorType(4), tensorType(4), tensorType(4))
}
func (op *convOp) String() string {
	if op.bias {
		return fmt.Sprintf("Conv2d%v dx=%t bias", op.geom, op.dx)
	}
	return fmt.Sprintf("Conv2d%v dx=%t", op.geom, op.dx)
}
func (op *convOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *convOp) Hashcode() uint32      { return hashOf(op) }
func (op *convOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.geom.yShape(), nil
}

func (op *convOp) Do(vals ...G.Value) (G.Value, error) {
	return op.run(op.out.get(op.dt, op.geom.yShape()), vals)
}

func (op *convOp) UsePreallocDo(p G.Value, vals ...G.Value) (G.Value, error) {
	out, err := prealloc(p, op.geom.yShape(), op.dt, vals, op.String())
	if err != nil {
		return nil, err
	}
	return op.run(out, vals)
}

func (op *convOp) run(out *tensor.Dense, vals []G.Value) (G.Value, error) {
	what := op.String()
	if len(vals) != op.Arity() {
		return nil, fmt.Errorf("%s: want %d inputs (x, w[, bias]), got %d", what, op.Arity(), len(vals))
	}
	x, err := input(vals, 0, op.geom.xShape(), op.dt, what)
	if err != nil {
		return nil, err
	}
	w, err := input(vals, 1, op.geom.wShape(), op.dt, what)
	if err != nil {
		return nil, err
	}
	var bias *tensor.Dense
	if op.bias {
		if bias, err = input(vals, 2, tensor.Shape{op.geom.O}, op.dt, what); err != nil {
			return nil, err
		}
	}
	defer op.scr.release()
	if op.dt == tensor.Float32 {
		convForward(op.geom, &op.scr, dataOf[float32](x), dataOf[float32](w), biasOf[float32](bias), dataOf[float32](out))
	} else {
		convForward(op.geom, &op.scr, dataOf[float64](x), dataOf[float64](w), biasOf[float64](bias), dataOf[float64](out))
	}
	return out, nil
}

// biasOf is the data of an optional bias tensor: nil for none.
func biasOf[T float](t *tensor.Dense) []T {
	if t == nil {
		return nil
	}
	return dataOf[T](t)
}

// DiffWRT is {dx, true} or, with a bias, {dx, true, true}; dx is false with ConvParams.NoInputGrad.
func (op *convOp) DiffWRT(int) []bool {
	if op.bias {
		return []bool{op.dx, true, true}
	}
	return []bool{op.dx, true}
}

// SymDiff returns the gradient nodes {dx, dw} or {dx, dw, dbias}; dx is nil with
// ConvParams.NoInputGrad.
func (op *convOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != op.Arity() {
		return nil, fmt.Errorf("%s: SymDiff wants %d inputs, got %d", op, op.Arity(), len(inputs))
	}
	var dxn *G.Node
	var err error
	if op.dx {
		if dxn, err = G.ApplyOp(&convGradOp{geom: op.geom, dt: op.dt}, inputs[1], grad); err != nil {
			return nil, fmt.Errorf("%s: dx: %w", op, err)
		}
	}
	dwn, err := G.ApplyOp(&convGradOp{geom: op.geom, dt: op.dt, dw: true}, inputs[0], grad)
	if err != nil {
		return nil, fmt.Errorf("%s: dw: %w", op, err)
	}
	if !op.bias {
		return G.Nodes{dxn, dwn}, nil
	}
	dbn, err := G.ApplyOp(&convBiasGradOp{geom: op.geom, dt: op.dt}, grad)
	if err != nil {
		return nil, fmt.Errorf("%s: dbias: %w", op, err)
	}
	return G.Nodes{dxn, dwn, dbn}, nil
}

// ---------------------------------------------------------------- gradient ops
// dx from (w, dy), or dw from (x, dy).

type convGradOp struct {
	pure
	geom convGeom
	dt   tensor.Dtype
	dw   bool // the filter gradient; otherwise the input gradient
	out  outBuf
	scr  scratch
}

// shapes returns the shape of the first input (w for dx, x for dw) and of the output.
func (op *convGradOp) shapes() (in, out tensor.Shape) {
	if op.dw {
		return op.geom.xShape(), op.geom.wShape()
	}
	return op.geom.wShape(), op.geom.xShape()
}

func (op *convGradOp) Arity() int { return 2 }
func (op *convGradOp) Type() hm.Type {
	return hm.NewFnType(tensorType(4), tensorType(4), tensorType(4))
}
func (op *convGradOp) String() string {
	if op.dw {
		return fmt.Sprintf("Conv2dDw%v", op.geom)
	}
	return fmt.Sprintf("Conv2dDx%v", op.geom)
}
func (op *convGradOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *convGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *convGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	_, out := op.shapes()
	return out, nil
}
func (op *convGradOp) Do(vals ...G.Value) (G.Value, error) {
	_, out := op.shapes()
	return op.run(op.out.get(op.dt, out), vals)
}
func (op *convGradOp) UsePreallocDo(p G.Value, vals ...G.Value) (G.Value, error) {
	_, shape := op.shapes()
	out, err := prealloc(p, shape, op.dt, vals, op.String())
	if err != nil {
		return nil, err
	}
	return op.run(out, vals)
}
func (op *convGradOp) run(out *tensor.Dense, vals []G.Value) (G.Value, error) {
	what := op.String()
	if len(vals) != 2 {
		return nil, fmt.Errorf("%s: want 2 inputs, got %d", what, len(vals))
	}
	inShape, _ := op.shapes()
	a, err := input(vals, 0, inShape, op.dt, what)
	if err != nil {
		return nil, err
	}
	dy, err := input(vals, 1, op.geom.yShape(), op.dt, what)
	if err != nil {
		return nil, err
	}
	defer op.scr.release()
	switch {
	case op.dw && op.dt == tensor.Float32:
		convBackwardFilter(op.geom, &op.scr, dataOf[float32](a), dataOf[float32](dy), dataOf[float32](out))
	case op.dw:
		convBackwardFilter(op.geom, &op.scr, dataOf[float64](a), dataOf[float64](dy), dataOf[float64](out))
	case op.dt == tensor.Float32:
		convBackwardData(op.geom, &op.scr, dataOf[float32](a), dataOf[float32](dy), dataOf[float32](out))
	default:
		convBackwardData(op.geom, &op.scr, dataOf[float64](a), dataOf[float64](dy), dataOf[float64](out))
	}
	return out, nil
}
func (op *convGradOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op *convGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, noSecondDerivative(op.String())
}

// ---------------------------------------------------------------- bias gradient op: dy -> dbias

// convBiasGradOp computes dbias[o] = Σ_{b,i,j} dY[b,o,i,j], the gradient of Conv2dBias's bias.
type convBiasGradOp struct {
	pure
	geom convGeom
	dt   tensor.Dtype
	out  outBuf
}

func (op *convBiasGradOp) Arity() int            { return 1 }
func (op *convBiasGradOp) Type() hm.Type         { return hm.NewFnType(tensorType(4), tensorType(1)) }
func (op *convBiasGradOp) String() string        { return fmt.Sprintf("Conv2dDbias%v", op.geom) }
func (op *convBiasGradOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *convBiasGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *convBiasGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.geom.O}, nil
}
func (op *convBiasGradOp) Do(vals ...G.Value) (G.Value, error) {
	return op.run(op.out.get(op.dt, tensor.Shape{op.geom.O}), vals)
}
func (op *convBiasGradOp) UsePreallocDo(p G.Value, vals ...G.Value) (G.Value, error) {
	out, err := prealloc(p, tensor.Shape{op.geom.O}, op.dt, vals, op.String())
	if err != nil {
		return nil, err
	}
	return op.run(out, vals)
}
func (op *convBiasGradOp) run(out *tensor.Dense, vals []G.Value) (G.Value, error) {
	what := op.String()
	if len(vals) != 1 {
		return nil, fmt.Errorf("%s: want 1 input (dy), got %d", what, len(vals))
	}
	dy, err := input(vals, 0, op.geom.yShape(), op.dt, what)
	if err != nil {
		return nil, err
	}
	if op.dt == tensor.Float32 {
		convBackwardBias(op.geom, dataOf[float32](dy), dataOf[float32](out))
	} else {
		convBackwardBias(op.geom, dataOf[float64](dy), dataOf[float64](out))
	}
	return out, nil
}
func (op *convBiasGradOp) DiffWRT(int) []bool { return []bool{false} }
func (op *convBiasGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, noSecondDerivative(op.String())
}
