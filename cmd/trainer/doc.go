// Command trainer builds, inspects and benchmarks the ResNet family.
//
//	trainer summary -model resnet18 -classes 1000 -input 1,3,224,224
//	trainer bench   -model resnet20 -batch 128 -steps 20 [-infer]
//	trainer compare -workloads resnet20:128,resnet18-infer:16 -rounds 3
//
// summary prints the layer table, the parameter count ("params: 11689512"), the MACs and the
// output shape of a forward pass on a seeded random input. bench times training steps (forward,
// backward, SGD update) or, with -infer, inference, on random data, and prints the median
// ms/step, img/s, MB allocated per step, peak RSS and the BLAS in use. compare runs bench and the
// PyTorch peer (../shared/peers/pytorch_bench.py) alternately on the same workloads.
//
// Bad input (an unknown model, a malformed shape, an unknown flag) prints one line naming the
// problem and exits with status 2.
package main
