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
//
// # Pre-activation ResNets
//
// PreActCIFAR and PreActImageNet (preresnetD, Spec.PreAct) build the nets of He et al. 2016b,
// "Identity Mappings in Deep Residual Networks": each block is BN → ReLU → conv throughout and
// adds its shortcut with no ReLU after the sum, so an identity shortcut carries the signal and
// the gradient between any two blocks unchanged (see package blocks). The stem is its
// convolution alone (and the ImageNet max pool), since the first block's pre-activation
// normalises what it outputs; the last stage is followed by a final BN → ReLU before the pooling,
// since no block activates its sum. On CIFAR, depth 6n+2 gives basic blocks with option-A
// shortcuts (preresnet110: 1,727,962 parameters, as resnet110: the stem's BN moves to the end and
// the first block of a stage normalises its narrower input), 9n+2 bottlenecks with projections
// (preresnet164: 1,703,258 parameters, the paper's 1.7M); where a depth is both, the paper's
// choice decides: basic below 164. A projection of a pre-activation block is a 1×1 convolution
// with no BatchNorm applied to the block's pre-activation, as in the paper's code.
//
// Parameter names (a PyTorch module with these attributes loads the weights with strict=True;
// testdata/gen_golden_preact.py and cmd/trainer/peer/pytorch_bench.py are two):
//
//	conv1.weight                                   the stem (no bn1)
//	layerS.B.bn1.* layerS.B.conv1.weight           bnK normalises the input of convK
//	layerS.B.bn2.* layerS.B.conv2.weight …         (bn3, conv3 in a bottleneck)
//	layerS.B.downsample.0.weight                   a projection (Spec.ShortcutName renames it)
//	bn_final.*                                     the final BN → ReLU (FinalBN)
//	fc.weight fc.bias
//
// With graph.Config.ZeroInitResidual the last convolution of each pre-activation branch starts at
// 0 (not its last BN's γ, which a ReLU follows: see graph.Config).
package resnet
