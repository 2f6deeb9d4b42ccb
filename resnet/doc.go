// Package resnet describes the ResNet family as data (a Spec per network, as the tables of He et
// al. 2016) and builds any Spec as a Gorgonia graph through packages graph and blocks.
//
// The family: ResNet-18/34/50/101/152 with torchvision's ImageNet layout (7×7/2 stem, 3×3/2 max
// pool, projection shortcuts, stride on the bottleneck's 3×3 conv), the CIFAR ResNets of depth
// 6n+2 (3×3 stem, widths 16/32/64, parameter-free option-A shortcuts), and a plain twin of every
// net (same layers, no shortcuts) for the degradation experiments. Parameter names are
// torchvision's state_dict keys. Lesson builds the lesson's variant of the ImageNet nets
// (lesson-resnet18 …): every convolution with a bias (Spec.ConvBias) and projections named
// shortcut (Spec.ShortcutName), so its names are the state_dict keys of the lesson's PyTorch code.
package resnet
