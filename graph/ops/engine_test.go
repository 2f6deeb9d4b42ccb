package ops

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestEngineAdd checks Engine's Add against the standard engine's, bit for bit, on the cases it
// takes (into a reuse tensor, in place) and on those it hands back (a new tensor, incr, float64,
// shapes that differ).
func TestEngineAdd(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	const n = 3*reluChunk + 5 // several workers' chunks and a tail
	dense := func(e tensor.Engine, v []float32) *tensor.Dense {
		return tensor.New(tensor.WithShape(n), tensor.WithBacking(append([]float32(nil), v...)), tensor.WithEngine(e))
	}
	av, bv, rv := randSlice(rng, n), randSlice(rng, n), randSlice(rng, n)
	want, err := tensor.Add(dense(G.StandardEngine{}, av), dense(G.StandardEngine{}, bv))
	require.NoError(t, err)
	for _, workers := range []int{1, 2, 3} {
		SetWorkers(workers)
		a, b, r := dense(Engine, av), dense(Engine, bv), dense(Engine, rv)
		got, err := tensor.Add(a, b, tensor.WithReuse(r))
		require.NoError(t, err)
		require.Same(t, r, got, "into the reuse tensor")
		requireSameBits(t, want.Data().([]float32), r.Float32s(), "reuse")
		requireSameBits(t, av, a.Float32s(), "a unchanged")

		got, err = tensor.Add(a, b, tensor.UseUnsafe())
		require.NoError(t, err)
		require.Same(t, a, got, "in place")
		requireSameBits(t, want.Data().([]float32), a.Float32s(), "in place")
	}
	SetWorkers(0)

	// the cases left to the standard engine give its results
	a, b := dense(Engine, av), dense(Engine, bv)
	got, err := tensor.Add(a, b)
	require.NoError(t, err)
	require.NotSame(t, a, got, "a new tensor")
	requireSameBits(t, want.Data().([]float32), got.Data().([]float32), "new tensor")
	incr := dense(Engine, rv)
	_, err = tensor.Add(a, b, tensor.WithIncr(incr))
	require.NoError(t, err)
	for i := range rv {
		require.Equal(t, rv[i]+(av[i]+bv[i]), incr.Float32s()[i], "incr %d", i)
	}
	short := tensor.New(tensor.WithShape(n-1), tensor.WithBacking(bv[:n-1]), tensor.WithEngine(Engine))
	_, err = tensor.Add(a, short, tensor.UseUnsafe())
	require.Error(t, err, "shapes that differ")
	x64 := tensor.New(tensor.WithShape(2), tensor.WithBacking([]float64{1, 2}), tensor.WithEngine(Engine))
	y64 := tensor.New(tensor.WithShape(2), tensor.WithBacking([]float64{3, 4}), tensor.WithEngine(Engine))
	_, err = tensor.Add(x64, y64, tensor.UseUnsafe())
	require.NoError(t, err)
	require.Equal(t, []float64{4, 6}, x64.Float64s())
}

// TestEngineMachine runs a graph whose node feeds two ops (so Gorgonia sums its gradients) on a
// machine with Engine and on one without: the same gradient, bit for bit.
func TestEngineMachine(t *testing.T) {
	grad := func(opts ...G.VMOpt) []float32 {
		g := G.NewGraph()
		rng := rand.New(rand.NewSource(1))
		xv := tensor.New(tensor.WithShape(2, 3, 4, 4), tensor.WithBacking(randSlice(rng, 96)))
		x := G.NodeFromAny(g, xv, G.WithName("x"))
		a, err := ReLU(x)
		require.NoError(t, err)
		b, err := ReLU(a)
		require.NoError(t, err)
		c, err := AddReLU(b, a) // a feeds b and c
		require.NoError(t, err)
		_, err = G.Grad(G.Must(G.Sum(G.Must(G.Square(c)))), x)
		require.NoError(t, err)
		vm := G.NewTapeMachine(g, append(opts, G.BindDualValues(x))...)
		defer vm.Close()
		require.NoError(t, vm.RunAll())
		dx, err := x.Grad()
		require.NoError(t, err)
		return append([]float32(nil), dx.Data().([]float32)...)
	}
	before := engineAdds.Load()
	want := grad()
	require.Equal(t, before, engineAdds.Load(), "the standard engine's machine")
	got := grad(G.WithEngine(Engine))
	require.Greater(t, engineAdds.Load(), before, "Engine summed the two gradients")
	requireSameBits(t, want, got, "dx")
	require.NotEqual(t, make([]float32, len(got)), got, "a gradient that is not all zeros")
}
