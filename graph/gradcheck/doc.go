// Package gradcheck compares the symbolic gradients of a Gorgonia graph (gorgonia.Grad, run by a
// TapeMachine) with central finite differences. It is meant for float64 graphs in tests.
package gradcheck
