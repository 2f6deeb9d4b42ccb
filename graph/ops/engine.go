package ops

import (
	"sync/atomic"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Engine is the tensor engine to run graphs of these operators with:
//
//	vm := G.NewTapeMachine(g, G.WithEngine(ops.Engine))
//
// It is Gorgonia's standard engine but for float32 addition. Where a node feeds several ops (a
// residual block's input feeds its first convolution and its shortcut), Gorgonia sums the
// gradients that come back with tensor.Add on the machine's engine, and the standard engine adds
// one element at a time on one core: 3% of a ResNet-20 training step's CPU time, while the other
// cores wait. Engine adds with the package's vector kernel across Workers(), the same sums.
var Engine tensor.Engine = engine{}

type engine struct{ G.StandardEngine }

// Add is the standard engine's Add, but for two contiguous float32 tensors of one shape added
// into a reuse tensor or in place (Gorgonia's gradient sums), which it adds with add32 across
// workers: the same sums, so the same bits.
func (e engine) Add(a, b tensor.Tensor, opts ...tensor.FuncOpt) (tensor.Tensor, error) {
	if out := addDense32(a, b, opts); out != nil {
		return out, nil
	}
	return e.StandardEngine.Add(a, b, opts...)
}

// addDense32 computes a + b into the reuse tensor of opts, or into a with UseUnsafe, and returns
// it; it returns nil, having written nothing, for any other case.
func addDense32(a, b tensor.Tensor, opts []tensor.FuncOpt) *tensor.Dense {
	ad, ok1 := a.(*tensor.Dense)
	bd, ok2 := b.(*tensor.Dense)
	if !ok1 || !ok2 || !contiguous32(ad) || !contiguous32(bd) || !ad.Shape().Eq(bd.Shape()) {
		return nil
	}
	fo := tensor.ParseFuncOpts(opts...)
	if fo.Incr() != nil || fo.As() != (tensor.Dtype{}) {
		return nil
	}
	out := ad
	if r := fo.Reuse(); r != nil {
		rd, ok := r.(*tensor.Dense)
		if !ok || !contiguous32(rd) || rd.Shape().TotalSize() != ad.Shape().TotalSize() {
			return nil
		}
		// the kernel allows an output that is an input, not one that overlaps it otherwise
		rlo, rhi := span(rd)
		for _, in := range []*tensor.Dense{ad, bd} {
			if ilo, ihi := span(in); rlo != ilo && rlo < ihi && ilo < rhi {
				return nil
			}
		}
		out = rd
	} else if fo.Safe() {
		return nil
	}
	x, y, z := ad.Float32s(), bd.Float32s(), out.Float32s()
	n := ad.Shape().TotalSize()
	parallelMin(n, reluChunk, func(_, lo, hi int) { add32(x[lo:hi], y[lo:hi], z[lo:hi]) })
	engineAdds.Add(1)
	return out
}

// engineAdds counts the additions Engine took (tests check that a machine's sums went there).
var engineAdds atomic.Int64

func contiguous32(t *tensor.Dense) bool {
	return t.Dtype() == tensor.Float32 && !t.RequiresIterator() && t.DataSize() >= t.Shape().TotalSize()
}

// addGo is add32 in Go (the reference and fallback).
func addGo(a, b, y []float32) {
	b, y = b[:len(a)], y[:len(a)]
	for i, v := range a {
		y[i] = v + b[i]
	}
}
