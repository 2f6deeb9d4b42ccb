package ops

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph/gradcheck"
)

// gradTol is the largest error accepted by checkGrads, in the one metric of the project's
// gradient checks (gradcheck.RelErr: |a − n| / max(|a|, |n|, gradcheck.Floor), the README's).
// gradH = 1e-5 balances the central difference's truncation error (~h²) against its rounding
// error (~1e-16·|L|/h); at 1e-6 rounding alone reached 1.2e-5 on a gradient near the floor.
const (
	gradTol = 1e-5
	gradH   = 1e-5
)

var relErr = gradcheck.RelErr

// randTensor returns a float64 tensor of the given shape with uniform entries in [lo,hi).
func randTensor(rng *rand.Rand, lo, hi float64, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(shape...))
	for i, d := 0, t.Float64s(); i < len(d); i++ {
		d[i] = lo + (hi-lo)*rng.Float64()
	}
	return t
}

// gradInput is one input of a gradient check: its value, and whether its gradient is checked.
type gradInput struct {
	val   *tensor.Dense
	check bool
}

// checkGrads builds y = build(inputs), the loss L = Σ y⊙R with a fixed random R (L = y when y is
// a scalar), takes G.Grad(L, checked inputs) and runs it on a TapeMachine. It then compares every
// analytic gradient entry with the central difference (L(v+h)-L(v-h))/2h, re-running the same
// machine (Reset between runs) after perturbing the input in place. It returns the largest
// relative error found.
func checkGrads(t *testing.T, rng *rand.Rand, ins []gradInput, build func(g *G.ExprGraph, in []*G.Node) (*G.Node, error)) float64 {
	t.Helper()
	g := G.NewGraph()
	nodes := make([]*G.Node, len(ins))
	var wrt []*G.Node
	for i, in := range ins {
		nodes[i] = G.NodeFromAny(g, in.val, G.WithName(string(rune('a'+i))))
		if in.check {
			wrt = append(wrt, nodes[i])
		}
	}
	y, err := build(g, nodes)
	require.NoError(t, err)
	loss := y
	if !y.IsScalar() {
		r := G.NodeFromAny(g, randTensor(rng, -1, 1, y.Shape()...), G.WithName("R"))
		prod, err := G.HadamardProd(y, r)
		require.NoError(t, err)
		loss, err = G.Sum(prod)
		require.NoError(t, err)
	}
	grads, err := G.Grad(loss, wrt...)
	require.NoError(t, err)
	var lossV G.Value
	G.Read(loss, &lossV)
	gradV := make([]G.Value, len(grads))
	for i, gn := range grads {
		G.Read(gn, &gradV[i])
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	run := func() float64 {
		m.Reset()
		require.NoError(t, m.RunAll())
		return scalarValue(t, lossV)
	}
	run()
	analytic := make([][]float64, len(grads))
	for i := range grads {
		gt := gradV[i].(*tensor.Dense)
		analytic[i] = append([]float64(nil), gt.Float64s()...)
	}
	worst := 0.0
	k := 0
	for _, in := range ins {
		if !in.check {
			continue
		}
		d := in.val.Float64s()
		require.Len(t, analytic[k], len(d), "gradient %d has the wrong size", k)
		for j := range d {
			v := d[j]
			d[j] = v + gradH
			lp := run()
			d[j] = v - gradH
			lm := run()
			d[j] = v
			num := (lp - lm) / (2 * gradH)
			if e := relErr(analytic[k][j], num); e > worst {
				worst = e
				if e > gradTol {
					t.Errorf("input %d entry %d: analytic %.10g, numeric %.10g, rel err %.3g", k, j, analytic[k][j], num, e)
				}
			}
		}
		k++
	}
	return worst
}

func scalarValue(t *testing.T, v G.Value) float64 {
	t.Helper()
	switch s := v.(type) {
	case *G.F64:
		return float64(*s)
	case *G.F32:
		return float64(*s)
	case tensor.Tensor:
		switch d := s.Data().(type) {
		case float64:
			return d
		case []float64:
			return d[0]
		case float32:
			return float64(d)
		}
	}
	t.Fatalf("not a scalar: %T %v", v, v)
	return 0
}
