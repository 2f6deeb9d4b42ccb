// Package blocks builds the residual blocks of He et al. 2016 ("Deep Residual Learning for Image
// Recognition"), their pre-activation form of He et al. 2016b ("Identity Mappings in Deep
// Residual Networks") and the plain twins of both as Gorgonia subgraphs.
//
// A residual block learns F(x) = H(x) − x and outputs y = relu(F(x) + shortcut(x)). The shortcut
// node is added to the conv branch in the graph, so the gradient keeps its identity term:
// ∂L/∂x = ∂L/∂y · (1 + ∂F/∂x). A plain block builds the same layers without the shortcut.
//
// A pre-activation block (Config.PreAct) moves BN and ReLU before each convolution and drops the
// ReLU after the addition: y = F(x) + x, F = conv(relu(bn(conv(relu(bn(x)))))). With identity
// shortcuts the signal of any block reaches any deeper one unchanged, x_L = x_l + Σ F, and so
// does the gradient, ∂L/∂x_l = ∂L/∂x_L · (1 + ∂(Σ F)/∂x_l): the paper's reason for the design,
// which it finds easier to optimise at 1001 layers and less prone to overfitting.
//
// Blocks take every layer from package graph (Conv2d, BatchNorm2d, AddReLU, Add, …), never
// Gorgonia's ops directly, so faster ops can be swapped in behind graph without touching them.
// Parameter names follow torchvision's modules: conv1, bn1, conv2, bn2, (conv3, bn3,)
// downsample.0, downsample.1; a pre-activation block has bn1, conv1, bn2, conv2, (bn3, conv3,)
// downsample.0, bnK normalising the input of convK. Config.ConvBias adds conv*.bias and
// Config.ShortcutName renames the projection (shortcut.0, shortcut.1 in the common from-scratch
// PyTorch ResNet).
package blocks
