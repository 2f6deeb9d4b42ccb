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
	d := 2
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

// PlainTwin returns s without shortcuts, named plainN.
func (s Spec) PlainTwin() Spec {
	p := s
	p.Plain = true
	p.Name = "plain" + strings.TrimPrefix(s.Name, "resnet")
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
// (ImageNet layout), resnetD for any other D = 6n+2 (CIFAR layout: 20, 32, 44, 56, 110, …), or
// plainD for the plain twin of either. The ImageNet nets take precedence where a depth is both
// (50, 152).
func ByName(name string, classes, inChannels int) (Spec, error) {
	var plain bool
	var digits string
	switch {
	case strings.HasPrefix(name, "resnet"):
		digits = strings.TrimPrefix(name, "resnet")
	case strings.HasPrefix(name, "plain"):
		plain, digits = true, strings.TrimPrefix(name, "plain")
	}
	depth, err := strconv.Atoi(digits)
	if digits == "" || err != nil || depth <= 0 {
		return Spec{}, unknown(name)
	}
	var s Spec
	if f, ok := imagenetByDepth(depth); ok {
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

func unknown(name string) error {
	return fmt.Errorf("resnet: unknown model %q (want resnet18, resnet34, resnet50, resnet101, resnet152, "+
		"resnetD for a CIFAR depth D = 6n+2 such as 20, 32, 44, 56, 110, or plain… for a plain twin)", name)
}
