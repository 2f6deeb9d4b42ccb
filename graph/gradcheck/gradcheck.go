package gradcheck

import (
	"fmt"
	"math"
	"math/rand"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Result is the worst disagreement found.
type Result struct {
	MaxRelErr float64 // max over checked elements of |analytic − numeric| / max(|analytic|, |numeric|, Floor)
	Worst     string  // node and index where it occurred
	Checked   int     // number of elements compared
}

// Floor keeps the relative error of near-zero gradients from dividing by almost nothing: below it,
// the error is absolute.
const Floor = 1e-3

// RelErr is the error of an analytic gradient a against a numeric one n that every gradient check
// of the project reports: |a − n| / max(|a|, |n|, Floor), relative for entries of normal size
// and absolute (over Floor) near zero, where a central difference's rounding error would
// dominate.
func RelErr(a, n float64) float64 {
	return math.Abs(a-n) / math.Max(math.Max(math.Abs(a), math.Abs(n)), Floor)
}

// Check differentiates the scalar loss of g with respect to wrt, then perturbs up to perNode
// elements of each wrt value (chosen with a seeded generator; all when perNode ≤ 0) by ±h and
// compares (L(x+h) − L(x−h)) / 2h with the symbolic gradient. The values of wrt must be set.
func Check(g *G.ExprGraph, loss *G.Node, wrt G.Nodes, h float64, perNode int) (Result, error) {
	grads, err := G.Grad(loss, wrt...)
	if err != nil {
		return Result{}, fmt.Errorf("gradcheck: G.Grad: %w", err)
	}
	gv := make([]G.Value, len(grads))
	for i, gn := range grads {
		G.Read(gn, &gv[i])
	}
	var lv G.Value
	G.Read(loss, &lv)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	run := func() (float64, error) {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			return 0, err
		}
		return toFloat(lv)
	}
	if _, err := run(); err != nil {
		return Result{}, fmt.Errorf("gradcheck: run: %w", err)
	}
	analytic := make([][]float64, len(grads))
	for i := range grads {
		analytic[i] = append([]float64(nil), gv[i].Data().([]float64)...)
	}
	rng := rand.New(rand.NewSource(1))
	var res Result
	for i, n := range wrt {
		x, ok := n.Value().Data().([]float64)
		if !ok {
			return Result{}, fmt.Errorf("gradcheck: %s is %v, want float64", n.Name(), n.Dtype())
		}
		idx := rng.Perm(len(x))
		if perNode > 0 && perNode < len(idx) {
			idx = idx[:perNode]
		}
		for _, j := range idx {
			orig := x[j]
			x[j] = orig + h
			lp, err := run()
			if err != nil {
				return Result{}, err
			}
			x[j] = orig - h
			lm, err := run()
			if err != nil {
				return Result{}, err
			}
			x[j] = orig
			num := (lp - lm) / (2 * h)
			a := analytic[i][j]
			rel := RelErr(a, num)
			res.Checked++
			if rel > res.MaxRelErr || math.IsNaN(rel) {
				res.MaxRelErr = rel
				res.Worst = fmt.Sprintf("%s[%d]: analytic %.9g numeric %.9g", n.Name(), j, a, num)
			}
		}
	}
	return res, nil
}

// WeightedSum returns Σ y·r over all elements for a fixed random r, a loss whose gradient with
// respect to y is r, so that every output element is checked. It flattens y first: Gorgonia's
// reductions over middle axes of 4-D tensors are wrong.
func WeightedSum(y *G.Node, seed int64) (*G.Node, error) {
	n := y.Shape().TotalSize()
	flat, err := G.Reshape(y, tensor.Shape{n})
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewSource(seed))
	r := make([]float64, n)
	for i := range r {
		r[i] = rng.NormFloat64()
	}
	rn := G.NewVector(y.Graph(), tensor.Float64, G.WithShape(n), G.WithName(fmt.Sprintf("r%d", seed)),
		G.WithValue(tensor.New(tensor.WithShape(n), tensor.WithBacking(r))))
	prod, err := G.HadamardProd(flat, rn)
	if err != nil {
		return nil, err
	}
	return G.Sum(prod)
}

// Fill sets every element of n's value to a seeded N(0, std²) draw.
func Fill(n *G.Node, seed int64, std float64) error {
	rng := rand.New(rand.NewSource(seed))
	d := make([]float64, n.Shape().TotalSize())
	for i := range d {
		d[i] = rng.NormFloat64() * std
	}
	return G.Let(n, tensor.New(tensor.WithShape(n.Shape().Clone()...), tensor.WithBacking(d)))
}

func toFloat(v G.Value) (float64, error) {
	switch d := v.Data().(type) {
	case float64:
		return d, nil
	case []float64:
		return d[0], nil
	}
	return 0, fmt.Errorf("gradcheck: loss is %T, want a float64 scalar", v.Data())
}
