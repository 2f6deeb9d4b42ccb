// Package blocks builds the residual blocks of He et al. 2016 ("Deep Residual Learning for Image
// Recognition") and their plain twins as Gorgonia subgraphs.
//
// A residual block learns F(x) = H(x) − x and outputs y = relu(F(x) + shortcut(x)). The shortcut
// node is added to the conv branch in the graph, so the gradient keeps its identity term:
// ∂L/∂x = ∂L/∂y · (1 + ∂F/∂x). A plain block builds the same layers without the shortcut.
//
// Blocks take every layer from package graph (Conv2d, BatchNorm2d, AddReLU, …), never Gorgonia's
// ops directly, so faster ops can be swapped in behind graph without touching them. Parameter
// names follow torchvision's modules: conv1, bn1, conv2, bn2, (conv3, bn3,) downsample.0,
// downsample.1; Config.ConvBias adds conv*.bias and Config.ShortcutName renames the projection
// (shortcut.0, shortcut.1 in the common from-scratch PyTorch ResNet).
package blocks
