package graph

import (
	"fmt"
	"math/rand"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph/ops"
)

// PyTorch's BatchNorm2d defaults. Momentum is the weight of the new batch statistic.
const (
	BNMomentum = 0.1
	BNEps      = 1e-5
)

// Conv2d adds a k×k convolution without bias (as torchvision: a BatchNorm follows), with the
// given stride and padding, and out output channels. Its weight is name+".weight" of shape
// (out, C, k, k), initialised Kaiming normal (fan_out, ReLU).
//
// A convolution applied to a graph input computes no input gradient (the network's input needs
// none), unless the input node was made with InputWithGrad.
func (b *Builder) Conv2d(name string, x *G.Node, out, k, stride, pad int) *G.Node {
	return b.conv(name, x, out, k, stride, pad, false, false)
}

// Conv2dBias is Conv2d with a bias, as PyTorch's nn.Conv2d with its default bias=True: besides
// name+".weight" (initialised as Conv2d's), name+".bias" of shape (out), initialised
// U(−1/√fan_in, 1/√fan_in) with fan_in = C·k·k, as nn.Conv2d does. One fused op adds the bias.
func (b *Builder) Conv2dBias(name string, x *G.Node, out, k, stride, pad int) *G.Node {
	return b.conv(name, x, out, k, stride, pad, true, false)
}

// ResidualConv2d is the Conv2d that closes a pre-activation residual branch (He et al. 2016b,
// where the branch ends with a convolution, not a BatchNorm): with Config.ZeroInitResidual its
// weight starts at 0, so the block starts as its shortcut.
func (b *Builder) ResidualConv2d(name string, x *G.Node, out, k, stride, pad int) *G.Node {
	return b.conv(name, x, out, k, stride, pad, false, true)
}

// ResidualConv2dBias is ResidualConv2d with a bias, which Config.ZeroInitResidual also starts at 0.
func (b *Builder) ResidualConv2dBias(name string, x *G.Node, out, k, stride, pad int) *G.Node {
	return b.conv(name, x, out, k, stride, pad, true, true)
}

// zeroed draws the values of init, so that every later tensor of the store gets the values it
// gets without Config.ZeroInitResidual, then returns zeros.
func zeroed(init Init) Init {
	return func(rng *rand.Rand, shape tensor.Shape, data []float64) {
		init(rng, shape, data)
		clear(data)
	}
}

func (b *Builder) conv(name string, x *G.Node, out, k, stride, pad int, withBias, residual bool) *G.Node {
	if !b.ok(x) {
		return nil
	}
	s := x.Shape()
	if s.Dims() != 4 {
		b.Fail(fmt.Errorf("%s: input shape %s, want (N,C,H,W)", name, describe(s)))
		return nil
	}
	wInit, bInit := KaimingNormalFanOut, UniformFanIn(s[1]*k*k)
	if residual && b.s.cfg.ZeroInitResidual {
		wInit, bInit = zeroed(wInit), zeroed(bInit)
	}
	w := b.param(name+".weight", Trainable, tensor.Shape{out, s[1], k, k}, wInit)
	if w == nil {
		return nil
	}
	p := ops.ConvParams{StrideH: stride, StrideW: stride, PadH: pad, PadW: pad,
		NoInputGrad: x.Op() == nil && !b.s.inputGrad[x]}
	params, op := out*s[1]*k*k, fmt.Sprintf("conv%dx%d/%d", k, k, stride)
	var y *G.Node
	var err error
	if withBias {
		bias := b.param(name+".bias", Trainable, tensor.Shape{out}, bInit)
		if bias == nil {
			return nil
		}
		y, err = ops.Conv2dBias(x, w, bias, p)
		params += out
		op += "+bias"
	} else {
		y, err = ops.Conv2d(x, w, p)
	}
	if err != nil {
		b.Fail(fmt.Errorf("%s: %w", name, err))
		return nil
	}
	ys := y.Shape()
	b.record(b.name(name), op, y, params, int64(ys[1]*ys[2]*ys[3])*int64(s[1]*k*k))
	return y
}

// InputWithGrad is Input for a node whose gradient is wanted (gradient checks, parity tests):
// the first convolution then computes its input gradient.
func (b *Builder) InputWithGrad(name string, shape ...int) *G.Node {
	x := b.Input(name, shape...)
	if x != nil {
		if b.s.inputGrad == nil {
			b.s.inputGrad = map[*G.Node]bool{}
		}
		b.s.inputGrad[x] = true
	}
	return x
}

// bnParams creates or finds name.weight, name.bias (trainable) and name.running_mean,
// name.running_var (buffers), in torchvision's order.
func (b *Builder) bnParams(name string, x *G.Node, gamma0 float64) (*G.Node, *G.Node, *ops.BNStats) {
	s := x.Shape()
	if s.Dims() != 4 && s.Dims() != 2 {
		b.Fail(fmt.Errorf("%s: input shape %s, want (N,C,H,W) or (N,C)", name, describe(s)))
		return nil, nil, nil
	}
	c := tensor.Shape{s[1]}
	gamma := b.param(name+".weight", Trainable, c, Constant(gamma0))
	beta := b.param(name+".bias", Trainable, c, Constant(0))
	mean := b.buffer(name+".running_mean", c, Constant(0))
	vr := b.buffer(name+".running_var", c, Constant(1))
	if gamma == nil || beta == nil || mean == nil || vr == nil {
		return nil, nil, nil
	}
	return gamma, beta, &ops.BNStats{Mean: mean.Value, Var: vr.Value, Momentum: BNMomentum, Eps: BNEps,
		Training: b.s.cfg.Mode == Train}
}

func (b *Builder) buffer(name string, shape tensor.Shape, init Init) *Param {
	e, err := b.s.params.getOrCreate(b.name(name), Buffer, shape, init)
	if err != nil {
		b.Fail(err)
		return nil
	}
	return e
}

type bnKind int

const (
	bnPlain bnKind = iota
	bnReLU
	bnResidual
)

func (b *Builder) batchNorm(name string, x *G.Node, kind bnKind) *G.Node {
	if !b.ok(x) {
		return nil
	}
	// As PyTorch, batch statistics need more than one value per channel.
	if sh := x.Shape(); b.s.cfg.Mode == Train && len(sh) == 4 && sh.TotalSize() == sh[1] {
		b.Fail(fmt.Errorf("in training mode BatchNorm %s sees one value per channel (input %v); use a batch of at least 2 or a larger input",
			b.name(name), sh))
		return nil
	}
	gamma0 := 1.0
	if kind == bnResidual && b.s.cfg.ZeroInitResidual {
		gamma0 = 0
	}
	gamma, beta, st := b.bnParams(name, x, gamma0)
	if st == nil {
		return nil
	}
	var y *G.Node
	var err error
	op := "bn"
	switch {
	case b.s.cfg.Probe:
		// Unfused, so the response before the ReLU is a node of its own.
		if y, err = ops.BatchNorm(x, gamma, beta, st); err == nil {
			b.s.responses = append(b.s.responses, Tap{Name: b.name(name), Node: y})
			if kind == bnReLU {
				op = "bn+relu"
				y, err = ops.ReLU(y)
			}
		}
	case kind == bnReLU:
		op = "bn+relu"
		y, err = ops.BatchNormReLU(x, gamma, beta, st)
	default:
		y, err = ops.BatchNorm(x, gamma, beta, st)
	}
	if err != nil {
		b.Fail(fmt.Errorf("%s: %w", name, err))
		return nil
	}
	b.record(b.name(name), op, y, 2*x.Shape()[1], 0)
	return y
}

// BatchNorm2d adds batch normalisation with PyTorch semantics (momentum 0.1 on the new statistic,
// eps 1e-5, biased variance to normalise, unbiased to update running_var): parameters
// name.weight (γ=1) and name.bias (β=0), buffers name.running_mean and name.running_var.
func (b *Builder) BatchNorm2d(name string, x *G.Node) *G.Node { return b.batchNorm(name, x, bnPlain) }

// BatchNormReLU is BatchNorm2d followed by ReLU, computed by one fused op.
func (b *Builder) BatchNormReLU(name string, x *G.Node) *G.Node { return b.batchNorm(name, x, bnReLU) }

// ResidualBatchNorm2d is the BatchNorm2d that closes a residual branch: with
// Config.ZeroInitResidual its γ starts at 0, so the block starts as its shortcut.
func (b *Builder) ResidualBatchNorm2d(name string, x *G.Node) *G.Node {
	return b.batchNorm(name, x, bnResidual)
}

// ReLU adds max(x, 0).
func (b *Builder) ReLU(x *G.Node) *G.Node {
	if !b.ok(x) {
		return nil
	}
	y, err := ops.ReLU(x)
	return b.done("relu", y, err)
}

// AddReLU is the residual join relu(branch + shortcut): the shortcut node is added to the conv
// branch, so ∂L/∂x keeps the identity term of y = F(x) + x. One fused op computes the sum and the
// ReLU; its gradient dy·[y>0] flows unchanged into both the branch and the shortcut.
func (b *Builder) AddReLU(branch, shortcut *G.Node) *G.Node {
	if !b.ok(branch, shortcut) {
		return nil
	}
	if !branch.Shape().Eq(shortcut.Shape()) {
		b.Fail(fmt.Errorf("residual join: branch %s and shortcut %s differ", describe(branch.Shape()), describe(shortcut.Shape())))
		return nil
	}
	y, err := ops.AddReLU(branch, shortcut)
	return b.done("add+relu", y, err)
}

// Add is the residual join of a pre-activation block (He et al. 2016b), branch + shortcut with no
// ReLU after it: the shortcut stays a pure identity, so ∂L/∂x = ∂L/∂y + ∂L/∂y·∂F/∂x, with the
// upstream gradient reaching x unchanged through the shortcut.
func (b *Builder) Add(branch, shortcut *G.Node) *G.Node {
	if !b.ok(branch, shortcut) {
		return nil
	}
	if !branch.Shape().Eq(shortcut.Shape()) {
		b.Fail(fmt.Errorf("residual join: branch %s and shortcut %s differ", describe(branch.Shape()), describe(shortcut.Shape())))
		return nil
	}
	y, err := ops.Add(branch, shortcut)
	return b.done("add", y, err)
}

// MaxPool2d adds k×k max pooling with the given stride and padding (padding never wins).
func (b *Builder) MaxPool2d(x *G.Node, k, stride, pad int) *G.Node {
	if !b.ok(x) {
		return nil
	}
	y, err := ops.MaxPool2d(x, k, stride, pad)
	return b.done(fmt.Sprintf("maxpool%dx%d/%d", k, k, stride), y, err)
}

// GlobalAvgPool averages each channel over H×W: (N,C,H,W) → (N,C).
func (b *Builder) GlobalAvgPool(x *G.Node) *G.Node {
	if !b.ok(x) {
		return nil
	}
	y, err := ops.GlobalAvgPool(x)
	return b.done("avgpool", y, err)
}

// ShortcutA is the parameter-free shortcut of He et al. 2016, option A: subsample by stride and
// pad the new channels with zeros (split evenly before and after, as the common PyTorch
// reproduction of the CIFAR nets does).
func (b *Builder) ShortcutA(x *G.Node, stride, outC int) *G.Node {
	if !b.ok(x) {
		return nil
	}
	y, err := ops.ShortcutA(x, stride, outC)
	return b.done("shortcutA", y, err)
}

// Linear adds y = x·Wᵀ + b with name.weight of shape (out, in) and name.bias of shape (out), as
// torchvision's fc, initialised U(−1/√in, 1/√in) as PyTorch's nn.Linear.
func (b *Builder) Linear(name string, x *G.Node, out int) *G.Node {
	if !b.ok(x) {
		return nil
	}
	s := x.Shape()
	if s.Dims() != 2 {
		b.Fail(fmt.Errorf("%s: input shape %s, want (N,features)", name, describe(s)))
		return nil
	}
	in := s[1]
	w := b.param(name+".weight", Trainable, tensor.Shape{out, in}, UniformFanIn(in))
	bias := b.param(name+".bias", Trainable, tensor.Shape{out}, UniformFanIn(in))
	if w == nil || bias == nil {
		return nil
	}
	xw, err := ops.MatMulT(x, w)
	if err != nil {
		b.Fail(fmt.Errorf("%s: %w", name, err))
		return nil
	}
	y, err := G.BroadcastAdd(xw, bias, nil, []byte{0})
	if err != nil {
		b.Fail(fmt.Errorf("%s: %w", name, err))
		return nil
	}
	b.record(b.name(name), "linear", y, out*in+out, int64(out*in))
	return y
}

// SoftmaxCrossEntropy is the mean over the batch of −Σ targets·log softmax(logits); targets are
// one-hot (or soft) rows of the same shape as logits.
func (b *Builder) SoftmaxCrossEntropy(logits, targets *G.Node) *G.Node {
	if !b.ok(logits, targets) {
		return nil
	}
	if !logits.Shape().Eq(targets.Shape()) {
		b.Fail(fmt.Errorf("cross-entropy: logits %s and targets %s differ", describe(logits.Shape()), describe(targets.Shape())))
		return nil
	}
	y, err := ops.SoftmaxCrossEntropy(logits, targets)
	if err != nil {
		b.Fail(fmt.Errorf("cross-entropy: %w", err))
		return nil
	}
	return y
}

// done records a parameter-free layer, or the error that stopped it.
func (b *Builder) done(op string, y *G.Node, err error) *G.Node {
	if err != nil {
		b.Fail(fmt.Errorf("%s: %w", op, err))
		return nil
	}
	name := b.prefix
	if name == "" {
		name = op
	}
	b.record(name, op, y, 0, 0)
	return y
}
