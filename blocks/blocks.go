package blocks

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/resnet-go/resnet/graph"
)

// Shortcut is how a block joins its input to its output when their shapes differ (He et al. 2016,
// §3.3). When stride is 1 and the channels match, every option is the identity.
type Shortcut int

const (
	// Projection is option B: a 1×1 convolution with the block's stride, then BatchNorm
	// (downsample.0, downsample.1 as torchvision; see Config.ShortcutName). A pre-activation
	// block's projection is the convolution alone, applied to the block's pre-activation.
	Projection Shortcut = iota
	// ZeroPad is option A: subsample by the stride and pad the new channels with zeros. It has
	// no parameters; the paper uses it for its CIFAR-10 nets.
	ZeroPad
)

func (s Shortcut) String() string {
	if s == ZeroPad {
		return "A (zero-pad)"
	}
	return "B (projection)"
}

// Kind is a block type: Basic or Bottleneck.
type Kind int

const (
	// Basic is two 3×3 convolutions (ResNet-18/34 and the CIFAR nets).
	Basic Kind = iota
	// Bottleneck is 1×1 → 3×3 → 1×1 with expansion 4 (ResNet-50/101/152).
	Bottleneck
)

// Expansion is the ratio of a block's output channels to its planes.
func (k Kind) Expansion() int {
	if k == Bottleneck {
		return 4
	}
	return 1
}

func (k Kind) String() string {
	if k == Bottleneck {
		return "bottleneck"
	}
	return "basic"
}

// Config describes one block: its width (planes; the output has planes·Expansion channels), the
// stride of its first spatial convolution, its shortcut option, whether it is the plain twin, and
// whether it is the pre-activation form.
type Config struct {
	Kind     Kind
	Planes   int
	Stride   int
	Shortcut Shortcut
	Plain    bool
	// PreAct builds the block of He et al. 2016b ("Identity Mappings in Deep Residual
	// Networks"): BN → ReLU → conv in the branch, y = F(x) + shortcut(x) with no ReLU after the
	// addition, so that an identity shortcut carries x and ∂L/∂y unchanged from block to block.
	// The first BN → ReLU is the block's pre-activation: a projection shortcut (option B, a 1×1
	// convolution with no BatchNorm, as the paper's code) takes it too, option A takes x.
	// Names: bn1, conv1, bn2, conv2, (bn3, conv3,) downsample.0.
	PreAct bool
	// ConvBias gives every convolution of the block a bias (branch and projection), as
	// nn.Conv2d's default bias=True in from-scratch PyTorch ResNets; torchvision has none.
	ConvBias bool
	// ShortcutName is the scope of the projection's layers: "" means torchvision's "downsample"
	// (downsample.0.weight, downsample.1.running_mean, …); "shortcut" gives the names of the common
	// from-scratch PyTorch ResNet (shortcut.0.weight, …).
	ShortcutName string
}

// defaultShortcutName is torchvision's name for the projection shortcut.
const defaultShortcutName = "downsample"

// conv is the block's convolution: with a bias when c.ConvBias.
func (c Config) conv(b *graph.Builder, name string, x *G.Node, out, k, stride, pad int) *G.Node {
	if c.ConvBias {
		return b.Conv2dBias(name, x, out, k, stride, pad)
	}
	return b.Conv2d(name, x, out, k, stride, pad)
}

// Build adds the block described by c to b, applied to x.
func Build(b *graph.Builder, x *G.Node, c Config) *G.Node {
	if c.Planes < 1 || c.Stride < 1 {
		b.Fail(fmt.Errorf("block: planes %d and stride %d must be positive", c.Planes, c.Stride))
		return nil
	}
	b.MarkBlockInput(x)
	if c.PreAct {
		return preAct(b, x, c)
	}
	var branch *G.Node
	if c.Kind == Bottleneck {
		branch = bottleneckBranch(b, x, c)
	} else {
		branch = basicBranch(b, x, c)
	}
	if c.Plain {
		return branch
	}
	return b.AddReLU(branch, shortcut(b, x, nil, c))
}

// BasicBlock is conv3×3(stride) → BN → ReLU → conv3×3 → BN, plus the shortcut, then ReLU.
func BasicBlock(b *graph.Builder, x *G.Node, planes, stride int, sc Shortcut) *G.Node {
	return Build(b, x, Config{Kind: Basic, Planes: planes, Stride: stride, Shortcut: sc})
}

// BottleneckBlock is conv1×1 → BN → ReLU → conv3×3(stride) → BN → ReLU → conv1×1 (4·planes) → BN,
// plus the shortcut, then ReLU. The stride sits on the 3×3 convolution, as torchvision's "v1.5".
func BottleneckBlock(b *graph.Builder, x *G.Node, planes, stride int, sc Shortcut) *G.Node {
	return Build(b, x, Config{Kind: Bottleneck, Planes: planes, Stride: stride, Shortcut: sc})
}

// PreActBasicBlock is BN → ReLU → conv3×3(stride) → BN → ReLU → conv3×3, plus the shortcut, with
// no ReLU after the addition (He et al. 2016b, fig. 1(b)).
func PreActBasicBlock(b *graph.Builder, x *G.Node, planes, stride int, sc Shortcut) *G.Node {
	return Build(b, x, Config{Kind: Basic, Planes: planes, Stride: stride, Shortcut: sc, PreAct: true})
}

// PreActBottleneckBlock is BN → ReLU → conv1×1 → BN → ReLU → conv3×3(stride) → BN → ReLU →
// conv1×1 (4·planes), plus the shortcut, with no ReLU after the addition (He et al. 2016b).
func PreActBottleneckBlock(b *graph.Builder, x *G.Node, planes, stride int, sc Shortcut) *G.Node {
	return Build(b, x, Config{Kind: Bottleneck, Planes: planes, Stride: stride, Shortcut: sc, PreAct: true})
}

// PlainBasic is BasicBlock without the shortcut: relu(BN(conv(relu(BN(conv(x)))))).
func PlainBasic(b *graph.Builder, x *G.Node, planes, stride int) *G.Node {
	return Build(b, x, Config{Kind: Basic, Planes: planes, Stride: stride, Plain: true})
}

// PlainBottleneck is BottleneckBlock without the shortcut.
func PlainBottleneck(b *graph.Builder, x *G.Node, planes, stride int) *G.Node {
	return Build(b, x, Config{Kind: Bottleneck, Planes: planes, Stride: stride, Plain: true})
}

// closeBranch is the last BatchNorm: before the join in a residual block (γ may start at 0 there,
// see graph.Config.ZeroInitResidual), fused with the final ReLU in a plain one.
func closeBranch(b *graph.Builder, name string, x *G.Node, plain bool) *G.Node {
	if plain {
		return b.BatchNormReLU(name, x)
	}
	return b.ResidualBatchNorm2d(name, x)
}

func basicBranch(b *graph.Builder, x *G.Node, c Config) *G.Node {
	out := c.conv(b, "conv1", x, c.Planes, 3, c.Stride, 1)
	out = b.BatchNormReLU("bn1", out)
	out = c.conv(b, "conv2", out, c.Planes, 3, 1, 1)
	return closeBranch(b, "bn2", out, c.Plain)
}

func bottleneckBranch(b *graph.Builder, x *G.Node, c Config) *G.Node {
	out := c.conv(b, "conv1", x, c.Planes, 1, 1, 0)
	out = b.BatchNormReLU("bn1", out)
	out = c.conv(b, "conv2", out, c.Planes, 3, c.Stride, 1)
	out = b.BatchNormReLU("bn2", out)
	out = c.conv(b, "conv3", out, c.Planes*4, 1, 1, 0)
	return closeBranch(b, "bn3", out, c.Plain)
}

// preAct is the pre-activation block (see Config.PreAct). The stride sits on the 3×3 convolution
// (conv1 of Basic, conv2 of Bottleneck), as in the paper's code and torchvision's "v1.5".
func preAct(b *graph.Builder, x *G.Node, c Config) *G.Node {
	pre := b.BatchNormReLU("bn1", x)
	var branch *G.Node
	if c.Kind == Bottleneck {
		out := c.conv(b, "conv1", pre, c.Planes, 1, 1, 0)
		out = b.BatchNormReLU("bn2", out)
		out = c.conv(b, "conv2", out, c.Planes, 3, c.Stride, 1)
		out = b.BatchNormReLU("bn3", out)
		branch = c.lastConv(b, "conv3", out, c.Planes*4, 1, 1, 0)
	} else {
		out := c.conv(b, "conv1", pre, c.Planes, 3, c.Stride, 1)
		out = b.BatchNormReLU("bn2", out)
		branch = c.lastConv(b, "conv2", out, c.Planes, 3, 1, 1)
	}
	if c.Plain {
		return branch
	}
	return b.Add(branch, shortcut(b, x, pre, c))
}

// lastConv closes a pre-activation branch: the convolution graph.Config.ZeroInitResidual starts
// at 0 (the BatchNorm before it is followed by a ReLU; see there). A plain twin has no shortcut
// to start as, so its convolution starts as every other.
func (c Config) lastConv(b *graph.Builder, name string, x *G.Node, out, k, stride, pad int) *G.Node {
	switch {
	case c.Plain:
		return c.conv(b, name, x, out, k, stride, pad)
	case c.ConvBias:
		return b.ResidualConv2dBias(name, x, out, k, stride, pad)
	}
	return b.ResidualConv2d(name, x, out, k, stride, pad)
}

// shortcut is the one place that decides the shortcut: the identity when the shape is kept,
// otherwise option A or B. pre is a pre-activation block's BN → ReLU of x (nil otherwise): its
// projection takes pre, as the paper's code does, so that both paths of the block see the
// normalised input; the projection has no BatchNorm (the next block's pre-activation, or the
// net's final BN → ReLU, normalises the sum). Option A subsamples x itself.
func shortcut(b *graph.Builder, x, pre *G.Node, c Config) *G.Node {
	if x == nil || b.Err() != nil {
		return nil
	}
	out := c.Planes * c.Kind.Expansion()
	if c.Stride == 1 && x.Shape()[1] == out {
		return x
	}
	if c.Shortcut == ZeroPad {
		return b.ShortcutA(x, c.Stride, out)
	}
	name := c.ShortcutName
	if name == "" {
		name = defaultShortcutName
	}
	ds := b.Scope(name)
	if c.PreAct {
		return c.conv(ds, "0", pre, out, 1, c.Stride, 0)
	}
	y := c.conv(ds, "0", x, out, 1, c.Stride, 0)
	return ds.BatchNorm2d("1", y)
}
