// Package graph is the glue between the ResNet code and Gorgonia: a Builder over a
// *gorgonia.ExprGraph with name scopes and a sticky error, a parameter store (Params) that owns
// the weights and BatchNorm running statistics under torchvision's state_dict names, and the
// layer functions every block uses (Conv2d, Conv2dBias, BatchNorm2d, ReLU, MaxPool2d, GlobalAvgPool, Linear,
// the residual join AddReLU, the option-A shortcut, softmax cross-entropy).
//
// The layer functions are the seam between model code and kernels: they are implemented with
// the fused CPU ops of package graph/ops, and blocks never call Gorgonia's conv or BN ops.
//
// Two facts of Gorgonia v0.9.18 shape this package (see ../shared/notes/gorgonia.md):
// BatchNormOp resets its running statistics when a TapeMachine is made, so the statistics live in
// Params and the BN op only reads and updates them; and G.Mean over middle axes of a 4-D tensor
// is wrong, so global pooling is an op of its own.
package graph
