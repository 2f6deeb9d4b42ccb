// Package train trains a resnet.Model on the CPU: SGD with momentum and weight decay (PyTorch
// semantics, since Gorgonia's Momentum solver decays the velocity instead of the weights), and a
// Trainer that runs forward, backward (gorgonia.Grad, TapeMachine) and update as one step.
package train
