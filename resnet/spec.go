package resnet

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/resnet-go/resnet/blocks"
)

// Stem is the first layer group of a net.
type Stem int

const (
	// ImageNetStem is conv 7×7/2 (64) → BN → ReLU → max pool 3×3/2.
	ImageNetStem Stem = iota
	// CIFARStem is conv 3×3/1 (16) → BN → ReLU.
	CIFARStem
)

func (s Stem) String() string {
	if s == CIFARStem {
		return "cifar"
	}
	return "imagenet"
}

// Spec is one network of the family, as a row of the paper's tables.
type Spec struct {
	Name       string
	Stem       Stem
	Widths     []int // planes of each stage
	Blocks     []int // blocks in each stage
	Block      blocks.Kind
	Shortcut   blocks.Shortcut
	Plain      bool // the plain twin: the same layers without shortcuts
	Classes    int
	InChannels int
	// PreAct builds the pre-activation net of He et al. 2016b (blocks.Config.PreAct): the stem
	// is its convolution alone (and the ImageNet max pool), since the first block's
	// pre-activation normalises what it outputs, and a final BN → ReLU ("bn_final") comes after
	// the last stage, before the pooling and fc, since the last block's sum is not activated.
	PreAct bool
	// ConvBias gives every convolution a bias (name.bias, shape (out)): the stem's, the
	// branches' and the projections'. torchvision's nets have none (a BatchNorm follows every
	// convolution); from-scratch PyTorch code that keeps nn.Conv2d's default bias=True, as the
	// lesson's (see Lesson), has them. The classifier fc always has its bias.
	ConvBias bool
	// ShortcutName is the scope of the projection shortcuts' parameters: "" for torchvision's
	// "downsample" (layer2.0.downsample.0.weight), "shortcut" for the lesson's
	// (layer2.0.shortcut.0.weight). It must not contain a dot.
	ShortcutName string
}

// StemWidth is the number of channels the stem produces.
func (s Spec) StemWidth() int {
	if s.Stem == CIFARStem {
		return s.Widths[0]
	}
	return 64
}

// Depth counts the weighted layers (convolutions of the main path and the classifier), as the
// paper names its nets.
func (s Spec) Depth() int {
	per := 2
	if s.Block == blocks.Bottleneck {
		per = 3
	}
	d := 2 // the stem's convolution and fc (projections and the final BN are not counted)
	for _, n := range s.Blocks {
		d += per * n
	}
	return d
}

// Validate reports the first field that makes s unbuildable.
func (s Spec) Validate() error {
	switch {
	case s.Classes < 1:
		return fmt.Errorf("resnet: %s: classes %d must be at least 1", s.Name, s.Classes)
	case s.InChannels < 1:
		return fmt.Errorf("resnet: %s: input channels %d must be at least 1", s.Name, s.InChannels)
	case len(s.Widths) == 0 || len(s.Widths) != len(s.Blocks):
		return fmt.Errorf("resnet: %s: %d widths for %d stages", s.Name, len(s.Widths), len(s.Blocks))
	case strings.ContainsAny(s.ShortcutName, ". "):
		return fmt.Errorf("resnet: %s: shortcut name %q must not contain a dot or a space", s.Name, s.ShortcutName)
	}
	for i := range s.Widths {
		if s.Widths[i] < 1 || s.Blocks[i] < 1 {
			return fmt.Errorf("resnet: %s: stage %d has width %d and %d blocks; both must be positive", s.Name, i+1, s.Widths[i], s.Blocks[i])
		}
	}
	return nil
}

func imagenet(name string, kind blocks.Kind, stages []int, classes int) Spec {
	return Spec{Name: name, Stem: ImageNetStem, Widths: []int{64, 128, 256, 512}, Blocks: stages,
		Block: kind, Shortcut: blocks.Projection, Classes: classes, InChannels: 3}
}

// ResNet18 is torchvision's resnet18: BasicBlocks [2, 2, 2, 2].
func ResNet18(classes int) Spec {
	return imagenet("resnet18", blocks.Basic, []int{2, 2, 2, 2}, classes)
}

// ResNet34 is torchvision's resnet34: BasicBlocks [3, 4, 6, 3].
func ResNet34(classes int) Spec {
	return imagenet("resnet34", blocks.Basic, []int{3, 4, 6, 3}, classes)
}

// ResNet50 is torchvision's resnet50: Bottlenecks [3, 4, 6, 3].
func ResNet50(classes int) Spec {
	return imagenet("resnet50", blocks.Bottleneck, []int{3, 4, 6, 3}, classes)
}

// ResNet101 is torchvision's resnet101: Bottlenecks [3, 4, 23, 3].
func ResNet101(classes int) Spec {
	return imagenet("resnet101", blocks.Bottleneck, []int{3, 4, 23, 3}, classes)
}

// ResNet152 is torchvision's resnet152: Bottlenecks [3, 8, 36, 3].
func ResNet152(classes int) Spec {
	return imagenet("resnet152", blocks.Bottleneck, []int{3, 8, 36, 3}, classes)
}

// CIFAR is the CIFAR-10 ResNet of depth 6n+2 (He et al. 2016, §4.2): a 3×3 stem, three stages of
// n BasicBlocks with widths 16, 32, 64, option-A shortcuts, global pooling and a linear layer.
func CIFAR(depth, classes int) (Spec, error) {
	if depth < 8 || (depth-2)%6 != 0 {
		return Spec{}, fmt.Errorf("resnet: CIFAR depth %d is not 6n+2 with n ≥ 1 (20, 32, 44, 56, 110, …)", depth)
	}
	n := (depth - 2) / 6
	return Spec{Name: fmt.Sprintf("resnet%d", depth), Stem: CIFARStem, Widths: []int{16, 32, 64},
		Blocks: []int{n, n, n}, Block: blocks.Basic, Shortcut: blocks.ZeroPad, Classes: classes, InChannels: 3}, nil
}

// PreActImageNet is the pre-activation ResNet of He et al. 2016b at one of torchvision's
// ImageNet depths (18, 34, 50, 101, 152), named preresnetD: torchvision's 7×7/2 stem and 3×3/2
// max pool, without the BN → ReLU between them (as timm's pre-activation ResNetV2: the first
// block's pre-activation takes its place), torchvision's stages of pre-activation blocks with
// projection shortcuts, then bn_final → ReLU → global pooling → fc.
func PreActImageNet(depth, classes int) (Spec, error) {
	f, ok := imagenetByDepth(depth)
	if !ok {
		return Spec{}, fmt.Errorf("resnet: the pre-activation ImageNet ResNet has no depth %d (want 18, 34, 50, 101 or 152)", depth)
	}
	s := f(classes)
	s.Name = preActPrefix + s.Name
	s.PreAct = true
	return s, nil
}

// PreActCIFAR is the pre-activation CIFAR ResNet of He et al. 2016b, named preresnetD: a 3×3
// conv stem (16), three stages of pre-activation blocks with planes 16, 32, 64, then bn_final →
// ReLU → global pooling → fc. The depth says the blocks: D = 6n+2 gives n basic blocks a stage
// with option-A shortcuts (the layout of the project's resnetD; the paper's 20 … 110), D = 9n+2
// n bottlenecks a stage (outputs 64, 128, 256) with projection shortcuts (the paper's 164 and
// 1001). A depth that is both (18m+2: 20, 56, 110, 164, …) follows the paper: basic blocks below
// 164, bottlenecks from 164 on.
func PreActCIFAR(depth, classes int) (Spec, error) {
	basic, bottleneck := depth >= 8 && (depth-2)%6 == 0, depth >= 11 && (depth-2)%9 == 0
	if basic && bottleneck {
		basic = depth < 164
		bottleneck = !basic
	}
	s := Spec{Name: fmt.Sprintf("%sresnet%d", preActPrefix, depth), Stem: CIFARStem, Widths: []int{16, 32, 64},
		PreAct: true, Classes: classes, InChannels: 3}
	switch {
	case basic:
		n := (depth - 2) / 6
		s.Blocks, s.Block, s.Shortcut = []int{n, n, n}, blocks.Basic, blocks.ZeroPad
	case bottleneck:
		n := (depth - 2) / 9
		s.Blocks, s.Block, s.Shortcut = []int{n, n, n}, blocks.Bottleneck, blocks.Projection
	default:
		return Spec{}, fmt.Errorf("resnet: pre-activation CIFAR depth %d is neither 6n+2 (basic blocks: 20, 32, 44, 56, 110, …) nor 9n+2 (bottlenecks: 164, 1001, …) with n ≥ 1", depth)
	}
	return s, nil
}

// preActPrefix starts the names of the pre-activation nets.
const preActPrefix = "pre"

// Lesson is the ResNet of the lesson this project implements, at one of torchvision's ImageNet
// depths (18, 34, 50, 101, 152), named lesson-resnetD: the layers of torchvision's net, but every
// convolution keeps nn.Conv2d's default bias (ConvBias) and the projections are named shortcut.0
// and shortcut.1 (ShortcutName), so its parameters are the state_dict of the lesson's PyTorch
// code (resnet/testdata/lesson_resnet.py). Lesson(18, 1000) has 11,694,312 parameters:
// torchvision's 11,689,512 plus 4,800 convolution biases.
func Lesson(depth, classes int) (Spec, error) {
	f, ok := imagenetByDepth(depth)
	if !ok {
		return Spec{}, fmt.Errorf("resnet: the lesson's ResNet has no depth %d (want 18, 34, 50, 101 or 152)", depth)
	}
	s := f(classes)
	s.Name = lessonPrefix + s.Name
	s.ConvBias = true
	s.ShortcutName = "shortcut"
	return s, nil
}

// lessonPrefix starts the names of the lesson's nets.
const lessonPrefix = "lesson-"

// PlainTwin returns s without shortcuts, named plainD for resnetD (lesson-plainD for
// lesson-resnetD, preplainD for preresnetD); every other setting, ConvBias and PreAct included,
// is kept.
func (s Spec) PlainTwin() Spec {
	p := s
	p.Plain = true
	if strings.Contains(s.Name, "resnet") {
		p.Name = strings.Replace(s.Name, "resnet", "plain", 1)
	} else {
		p.Name = "plain" + s.Name
	}
	return p
}

// imagenetByDepth returns the constructor of torchvision's net of that depth, if there is one.
func imagenetByDepth(depth int) (func(int) Spec, bool) {
	switch depth {
	case 18:
		return ResNet18, true
	case 34:
		return ResNet34, true
	case 50:
		return ResNet50, true
	case 101:
		return ResNet101, true
	case 152:
		return ResNet152, true
	}
	return nil, false
}

// ByName returns the net called name: resnet18, resnet34, resnet50, resnet101, resnet152
// (torchvision's ImageNet layout), resnetD for any other D = 6n+2 (CIFAR layout: 20, 32, 44, 56,
// 110, …), lesson-resnet18 … lesson-resnet152 for the lesson's variant of the ImageNet nets (see
// Lesson: convolutions with bias, shortcut.* names), preresnet18 … preresnet152 and preresnetD
// for the pre-activation nets (PreActImageNet, PreActCIFAR: D = 6n+2 or 9n+2, 20 … 110, 164,
// 1001), or plainD (lesson-plainD, preplainD) for the plain twin of any of them. The ImageNet
// nets take precedence where a depth is both (50, 152). Names are case-insensitive; Models lists
// the registered ones with their defaults.
func ByName(name string, classes, inChannels int) (Spec, error) {
	// Names are case-insensitive ("ResNet18", as papers write them); specs carry the canonical one.
	rest, lesson := strings.CutPrefix(strings.ToLower(strings.TrimSpace(name)), lessonPrefix)
	rest, preAct := strings.CutPrefix(rest, preActPrefix)
	if lesson && preAct {
		return Spec{}, unknown(name) // the lesson has no pre-activation nets
	}
	var plain bool
	var digits string
	switch {
	case strings.HasPrefix(rest, "resnet"):
		digits = strings.TrimPrefix(rest, "resnet")
	case strings.HasPrefix(rest, "plain"):
		plain, digits = true, strings.TrimPrefix(rest, "plain")
	}
	depth, err := strconv.Atoi(digits)
	if digits == "" || err != nil || depth <= 0 {
		return Spec{}, unknown(name)
	}
	var s Spec
	if lesson {
		if s, err = Lesson(depth, classes); err != nil {
			return Spec{}, unknown(name)
		}
	} else if preAct {
		if s, err = PreActImageNet(depth, classes); err != nil {
			if s, err = PreActCIFAR(depth, classes); err != nil {
				return Spec{}, unknown(name)
			}
		}
	} else if f, ok := imagenetByDepth(depth); ok {
		s = f(classes)
	} else if s, err = CIFAR(depth, classes); err != nil {
		return Spec{}, unknown(name)
	}
	s.InChannels = inChannels
	if plain {
		s = s.PlainTwin()
	}
	return s, s.Validate()
}
