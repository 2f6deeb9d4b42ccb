package ops

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// randOf returns a random tensor of the given dtype with entries uniform in [lo,hi).
func randOf(rng *rand.Rand, dt tensor.Dtype, lo, hi float64, shape ...int) *tensor.Dense {
	t := randTensor(rng, lo, hi, shape...)
	if dt == tensor.Float64 {
		return t
	}
	d := make([]float32, len(t.Float64s()))
	for i, v := range t.Float64s() {
		d[i] = float32(v)
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
}

// f64 returns a float64 copy of a float tensor's data.
func f64(v G.Value) []float64 {
	switch d := v.Data().(type) {
	case []float64:
		return append([]float64(nil), d...)
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	}
	panic(fmt.Sprintf("not a float tensor: %T", v.Data()))
}

// runForward runs the graph once and returns copies of the values of the given nodes.
func runForward(t *testing.T, g *G.ExprGraph, nodes ...*G.Node) [][]float64 {
	t.Helper()
	m := G.NewTapeMachine(g)
	defer m.Close()
	require.NoError(t, m.RunAll())
	out := make([][]float64, len(nodes))
	for i, n := range nodes {
		out[i] = f64(n.Value())
	}
	return out
}

func assertClose(t *testing.T, want, got []float64, tol float64, msg string) {
	t.Helper()
	require.Len(t, got, len(want), msg)
	worst := 0.0
	for i := range want {
		e := math.Abs(want[i]-got[i]) / math.Max(1, math.Abs(want[i]))
		if e > worst {
			worst = e
		}
		if e > tol {
			t.Fatalf("%s: element %d: want %.9g, got %.9g (err %.3g)", msg, i, want[i], got[i], e)
		}
	}
}

func tolFor(dt tensor.Dtype) float64 {
	if dt == tensor.Float32 {
		return 2e-5
	}
	return 1e-12
}

var dtypes = []tensor.Dtype{tensor.Float32, tensor.Float64}

func TestConv2dMatchesGorgonia(t *testing.T) {
	for _, dt := range dtypes {
		for _, tc := range convCases {
			t.Run(fmt.Sprintf("%v/%s", dt, tc.name), func(t *testing.T) {
				rng := rand.New(rand.NewSource(4))
				g := G.NewGraph()
				x := G.NodeFromAny(g, randOf(rng, dt, -1, 1, tc.b, tc.c, tc.h, tc.w), G.WithName("x"))
				w := G.NodeFromAny(g, randOf(rng, dt, -1, 1, tc.o, tc.c, tc.kh, tc.kw), G.WithName("w"))
				ours, err := Conv2d(x, w, ConvParams{StrideH: tc.sh, StrideW: tc.sw, PadH: tc.ph, PadW: tc.pw})
				require.NoError(t, err)
				stock, err := G.Conv2d(x, w, tensor.Shape{tc.kh, tc.kw}, []int{tc.ph, tc.pw}, []int{tc.sh, tc.sw}, []int{1, 1})
				require.NoError(t, err)
				require.Equal(t, stock.Shape(), ours.Shape())
				v := runForward(t, g, stock, ours)
				assertClose(t, v[0], v[1], tolFor(dt), "conv")
			})
		}
	}
}

func TestMaxPoolMatchesGorgonia(t *testing.T) {
	for _, dt := range dtypes {
		for _, tc := range []struct{ k, s, p, h, w int }{{3, 2, 1, 9, 8}, {2, 2, 0, 8, 6}, {3, 1, 1, 5, 5}, {3, 2, 0, 7, 7}} {
			t.Run(fmt.Sprintf("%v/k%ds%dp%d", dt, tc.k, tc.s, tc.p), func(t *testing.T) {
				rng := rand.New(rand.NewSource(5))
				g := G.NewGraph()
				// all negative, so a padding treated as 0 instead of -inf would show
				x := G.NodeFromAny(g, randOf(rng, dt, -2, -1, 2, 3, tc.h, tc.w), G.WithName("x"))
				ours, err := MaxPool2d(x, tc.k, tc.s, tc.p)
				require.NoError(t, err)
				stock, err := G.MaxPool2D(x, tensor.Shape{tc.k, tc.k}, []int{tc.p, tc.p}, []int{tc.s, tc.s})
				require.NoError(t, err)
				require.Equal(t, stock.Shape(), ours.Shape())
				v := runForward(t, g, stock, ours)
				assertClose(t, v[0], v[1], 0, "maxpool")
			})
		}
	}
}

func TestMaxPoolTiesFirst(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(1, 1, 2, 2), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(1, 1, 2, 2), tensor.WithBacking([]float64{1, 3, 3, 0}))))
	y, err := MaxPool2d(x, 2, 2, 0)
	require.NoError(t, err)
	loss, err := G.Sum(y)
	require.NoError(t, err)
	grads, err := G.Grad(loss, x)
	require.NoError(t, err)
	v := runForward(t, g, y, grads[0])
	assert.Equal(t, []float64{3}, v[0])
	assert.Equal(t, []float64{0, 1, 0, 0}, v[1], "gradient goes to the first maximum")
}

func TestReLUMatchesGorgonia(t *testing.T) {
	for _, dt := range dtypes {
		t.Run(dt.String(), func(t *testing.T) {
			rng := rand.New(rand.NewSource(6))
			g := G.NewGraph()
			av, bv := randOf(rng, dt, -1, 1, 2, 3, 4, 5), randOf(rng, dt, -1, 1, 2, 3, 4, 5)
			a := G.NodeFromAny(g, av, G.WithName("a"))
			b := G.NodeFromAny(g, bv, G.WithName("b"))
			ours, err := ReLU(a)
			require.NoError(t, err)
			stock := G.Must(G.Rectify(a))
			oursAdd, err := AddReLU(a, b)
			require.NoError(t, err)
			stockAdd := G.Must(G.Rectify(G.Must(G.Add(a, b))))
			oursSum, err := Add(a, b)
			require.NoError(t, err)
			v := runForward(t, g, stock, ours, stockAdd, oursAdd, oursSum)
			assertClose(t, v[0], v[1], 0, "relu")
			assertClose(t, v[2], v[3], 0, "addrelu")
			// (the stock Add node is the one stockAdd's Rectify overwrote in place: sum here)
			sum := f64(av)
			for i, x := range f64(bv) {
				sum[i] += x
			}
			if dt == tensor.Float32 {
				for i := range sum {
					sum[i] = float64(float32(sum[i]))
				}
			}
			assertClose(t, sum, v[4], 0, "add")
		})
	}
}

// naiveBN computes batch norm of x (B,C,...) in float64: the output with the given statistics
// (batch statistics when mean is nil) and the batch mean and biased variance.
func naiveBN(x []float64, shape tensor.Shape, gamma, beta, mean, vr []float64, eps float64, relu bool) (y, bm, bv []float64) {
	B, C := shape[0], shape[1]
	hw := shape.TotalSize() / (B * C)
	n := float64(B * hw)
	bm, bv = make([]float64, C), make([]float64, C)
	for c := 0; c < C; c++ {
		for b := 0; b < B; b++ {
			for i := 0; i < hw; i++ {
				bm[c] += x[(b*C+c)*hw+i]
			}
		}
		bm[c] /= n
		for b := 0; b < B; b++ {
			for i := 0; i < hw; i++ {
				d := x[(b*C+c)*hw+i] - bm[c]
				bv[c] += d * d
			}
		}
		bv[c] /= n
	}
	if mean == nil {
		mean, vr = bm, bv
	}
	y = make([]float64, len(x))
	for b := 0; b < B; b++ {
		for c := 0; c < C; c++ {
			for i := 0; i < hw; i++ {
				j := (b*C+c)*hw + i
				y[j] = gamma[c]*(x[j]-mean[c])/math.Sqrt(vr[c]+eps) + beta[c]
				if relu {
					y[j] = math.Max(y[j], 0)
				}
			}
		}
	}
	return y, bm, bv
}

func TestBatchNormForwardAndRunningStats(t *testing.T) {
	for _, dt := range dtypes {
		for _, relu := range []bool{false, true} {
			for _, shape := range []tensor.Shape{{4, 3, 5, 6}, {8, 5}} {
				t.Run(fmt.Sprintf("%v/relu=%t/%v", dt, relu, shape), func(t *testing.T) {
					rng := rand.New(rand.NewSource(7))
					C := shape[1]
					g := G.NewGraph()
					xv := randOf(rng, dt, 1, 3, shape...) // mean far from 0: checks the shifted sums
					x := G.NodeFromAny(g, xv, G.WithName("x"))
					gv, bv := randOf(rng, dt, 0.5, 1.5, C), randOf(rng, dt, -0.5, 0.5, C)
					gamma := G.NodeFromAny(g, gv, G.WithName("gamma"))
					beta := G.NodeFromAny(g, bv, G.WithName("beta"))
					st := newStats(dt, C, true)
					f := BatchNorm
					if relu {
						f = BatchNormReLU
					}
					y, err := f(x, gamma, beta, st)
					require.NoError(t, err)
					m := G.NewTapeMachine(g)
					defer m.Close()

					rm, rv := make([]float64, C), make([]float64, C)
					for i := range rv {
						rv[i] = 1
					}
					n := float64(shape.TotalSize() / C)
					for step := 0; step < 2; step++ {
						if step == 1 { // new input values, same tensor
							setData(xv, f64(randOf(rng, tensor.Float64, -2, 0, shape...)))
						}
						m.Reset()
						require.NoError(t, m.RunAll())
						want, bm, bvar := naiveBN(f64(xv), shape, f64(gv), f64(bv), nil, nil, st.Eps, relu)
						assertClose(t, want, f64(y.Value()), 10*tolFor(dt), fmt.Sprintf("step %d output", step))
						for c := range rm {
							rm[c] = 0.9*rm[c] + 0.1*bm[c]
							rv[c] = 0.9*rv[c] + 0.1*bvar[c]*n/(n-1)
						}
						assertClose(t, rm, f64(st.Mean), tolFor(dt), fmt.Sprintf("step %d running mean", step))
						assertClose(t, rv, f64(st.Var), tolFor(dt), fmt.Sprintf("step %d running var", step))
					}

					// evaluation mode on the same graph: the affine map with the running stats,
					// which are left unchanged
					st.Training = false
					m.Reset()
					require.NoError(t, m.RunAll())
					want, _, _ := naiveBN(f64(xv), shape, f64(gv), f64(bv), rm, rv, st.Eps, relu)
					assertClose(t, want, f64(y.Value()), 10*tolFor(dt), "eval output")
					assertClose(t, rm, f64(st.Mean), tolFor(dt), "eval running mean")
					assertClose(t, rv, f64(st.Var), tolFor(dt), "eval running var")
				})
			}
		}
	}
}

// setData overwrites a float tensor's values (converting from float64).
func setData(t *tensor.Dense, v []float64) {
	if t.Dtype() == tensor.Float64 {
		copy(t.Float64s(), v)
		return
	}
	d := t.Float32s()
	for i := range d {
		d[i] = float32(v[i])
	}
}

// Max pooling, with the argmax (training) and without (inference), outputs the value and the
// index of maxPoolWindow, the exact loop over each window, bit for bit: also for windows whose
// maximum is a signed zero, a NaN or a tie (the first in row-major order).
func TestMaxPoolMatchesExactLoop(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(-1)), float32(math.Inf(1))}
	for _, g := range []poolGeom{
		{B: 2, C: 3, H: 9, W: 8, K: 3, S: 2, P: 1},
		{B: 1, C: 2, H: 5, W: 7, K: 2, S: 2, P: 0},
		{B: 3, C: 1, H: 6, W: 6, K: 3, S: 1, P: 1},
		{B: 1, C: 2, H: 3, W: 600, K: 3, S: 2, P: 1}, // wider than the column buffer: the exact loop
	} {
		g.OH, g.OW = (g.H+2*g.P-g.K)/g.S+1, (g.W+2*g.P-g.K)/g.S+1
		x := randSlice(rng, g.B*g.C*g.H*g.W)
		for i := range x {
			switch r := rng.Intn(10); {
			case r < 3:
				x[i] = specials[rng.Intn(2)] // signed zeros, often
			case r < 4:
				x[i] = specials[2+rng.Intn(3)]
			case r < 5:
				x[i] = 0.5 // ties
			}
		}
		n := g.B * g.C * g.OH * g.OW
		want, wantArg := make([]float32, n), make([]int32, n)
		for pl := 0; pl < g.B*g.C; pl++ {
			for i := 0; i < g.OH; i++ {
				for j := 0; j < g.OW; j++ {
					v, a := maxPoolWindow(g, x[pl*g.H*g.W:(pl+1)*g.H*g.W], i, j)
					want[(pl*g.OH+i)*g.OW+j], wantArg[(pl*g.OH+i)*g.OW+j] = v, int32(a)
				}
			}
		}
		got, gotArg, gotNoArg := make([]float32, n), make([]int32, n), make([]float32, n)
		maxPoolForward(g, x, got, gotArg)
		maxPoolForward(g, x, gotNoArg, nil)
		for i := range want {
			require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "%+v output %d", g, i)
			require.Equal(t, wantArg[i], gotArg[i], "%+v argmax %d", g, i)
			require.Equal(t, math.Float32bits(want[i]), math.Float32bits(gotNoArg[i]), "%+v output %d without the argmax", g, i)
		}
	}
}

// TestShortcutA32 checks the float32 option-A shortcut (its forward map takes a plane at a time
// through the row gather for stride 2) and its adjoint against their definitions, element by
// element: y[b, lo+c, i, j] = x[b, c, s·i, s·j], zero in the padding channels.
func TestShortcutA32(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	for _, tc := range []struct{ b, c, h, w, s, oc int }{
		{2, 3, 32, 32, 2, 7}, // CIFAR's planes, rows of 16 through the vector gather
		{2, 2, 17, 19, 2, 4}, // odd sizes: rows of 10, the last read one value short
		{1, 2, 6, 6, 2, 2},   // rows of 3, the Go loop
		{2, 2, 9, 9, 3, 6},   // stride 3
		{1, 3, 4, 5, 1, 5},   // stride 1
	} {
		oh, ow := (tc.h-1)/tc.s+1, (tc.w-1)/tc.s+1
		g := shortcutGeom{B: tc.b, C: tc.c, H: tc.h, W: tc.w, S: tc.s, OC: tc.oc, OH: oh, OW: ow, Lo: (tc.oc - tc.c) / 2}
		x := randSlice(rng, tc.b*tc.c*tc.h*tc.w)
		y := randSlice(rng, tc.b*tc.oc*oh*ow) // overwritten everywhere
		shortcutKernel(g, false, x, y)
		dx := randSlice(rng, len(x)) // overwritten everywhere
		shortcutKernel(g, true, y, dx)
		for b := 0; b < tc.b; b++ {
			for o := 0; o < tc.oc; o++ {
				for i := 0; i < oh; i++ {
					for j := 0; j < ow; j++ {
						var want float32
						if c := o - g.Lo; c >= 0 && c < tc.c {
							want = x[((b*tc.c+c)*tc.h+tc.s*i)*tc.w+tc.s*j]
						}
						require.Equal(t, want, y[((b*tc.oc+o)*oh+i)*ow+j], "%+v y[%d,%d,%d,%d]", tc, b, o, i, j)
					}
				}
			}
			for c := 0; c < tc.c; c++ {
				for r := 0; r < tc.h; r++ {
					for q := 0; q < tc.w; q++ {
						var want float32 // the adjoint of y's map applied to y
						if r%tc.s == 0 && q%tc.s == 0 {
							want = x[((b*tc.c+c)*tc.h+r)*tc.w+q]
						}
						require.Equal(t, want, dx[((b*tc.c+c)*tc.h+r)*tc.w+q], "%+v dx[%d,%d,%d,%d]", tc, b, c, r, q)
					}
				}
			}
		}
	}
}
