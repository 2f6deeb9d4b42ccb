package ops

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

var kernelLens = []int{0, 1, 3, 7, 8, 15, 16, 17, 31, 33, 1000, 1024 + 5}

// kernelInput returns n random float32 values in [-2,2) with some +0 and -0, starting at offset
// off of a larger slice, followed by a guard element.
func kernelInput(rng *rand.Rand, n, off int) []float32 {
	buf := make([]float32, off+n+1)
	for i := range buf {
		switch r := rng.Intn(16); {
		case r < 2:
			buf[i] = 0
		case r == 2:
			buf[i] = float32(math.Copysign(0, -1))
		default:
			buf[i] = float32(rng.Float64()*4 - 2)
		}
	}
	return buf[off : off+n : off+n+1]
}

// sumCase is a reduction kernel: SIMD version, Go reference and Σ|terms| of both sums.
type sumCase struct {
	name  string
	nin   int
	asm   func(in [][]float32, m float32) (float32, float32)
	ref   func(in [][]float32, m float32) (float32, float32)
	scale func(in [][]float32, m float32) (float64, float64)
}

func TestSumKernels(t *testing.T) {
	cases := []sumCase{
		{"rowSums32", 1,
			func(in [][]float32, m float32) (float32, float32) { return rowSums32(in[0], m) },
			func(in [][]float32, m float32) (float32, float32) { return rowSumsGo(in[0], m) },
			func(in [][]float32, m float32) (a, b float64) {
				for _, v := range in[0] {
					d := math.Abs(float64(v - m))
					a, b = a+d, b+d*d
				}
				return
			}},
		{"gradSums32", 2,
			func(in [][]float32, m float32) (float32, float32) { return gradSums32(in[0], in[1], m) },
			func(in [][]float32, m float32) (float32, float32) { return gradSumsGo(in[0], in[1], m) },
			func(in [][]float32, m float32) (a, b float64) {
				for i, g := range in[0] {
					a += math.Abs(float64(g))
					b += math.Abs(float64(g * (in[1][i] - m)))
				}
				return
			}},
		{"maskedGradSums32", 3,
			func(in [][]float32, m float32) (float32, float32) { return maskedGradSums32(in[0], in[1], in[2], m) },
			func(in [][]float32, m float32) (float32, float32) { return maskedGradSums32Go(in[0], in[1], in[2], m) },
			func(in [][]float32, m float32) (a, b float64) {
				for i, g := range in[1] {
					a += math.Abs(float64(g))
					b += math.Abs(float64(g * (in[2][i] - m)))
				}
				return
			}},
	}
	rng := rand.New(rand.NewSource(1))
	for _, c := range cases {
		for _, n := range kernelLens {
			for off := 0; off < 4; off++ {
				t.Run(fmt.Sprintf("%s/n=%d/off=%d", c.name, n, off), func(t *testing.T) {
					in := make([][]float32, c.nin)
					for k := range in {
						in[k] = kernelInput(rng, n, (off+k)%4) // different alignments per slice
					}
					m := float32(rng.Float64() - 0.5)
					got1, got2 := c.asm(in, m)
					want1, want2 := c.ref(in, m)
					sc1, sc2 := c.scale(in, m)
					require.InDelta(t, float64(want1), float64(got1), 1e-5*sc1+1e-30, "s1")
					require.InDelta(t, float64(want2), float64(got2), 1e-5*sc2+1e-30, "s2")
				})
			}
		}
	}
}

// ewCase is an element-wise kernel writing out from the inputs: SIMD version and Go reference.
type ewCase struct {
	name string
	nin  int
	asm  func(in [][]float32, out []float32, k [3]float32)
	ref  func(in [][]float32, out []float32, k [3]float32)
}

var ewCases = []ewCase{
	{"affineRow32", 1,
		func(in [][]float32, out []float32, k [3]float32) { affineRow32(in[0], out, k[0], k[1]) },
		func(in [][]float32, out []float32, k [3]float32) { affineRowGo(in[0], out, k[0], k[1], false) }},
	{"affineReluRow32", 1,
		func(in [][]float32, out []float32, k [3]float32) { affineReluRow32(in[0], out, k[0], k[1]) },
		func(in [][]float32, out []float32, k [3]float32) { affineRowGo(in[0], out, k[0], k[1], true) }},
	{"bnDxRow32", 2,
		func(in [][]float32, out []float32, k [3]float32) { bnDxRow32(in[0], in[1], out, k[0], k[1], k[2]) },
		func(in [][]float32, out []float32, k [3]float32) { bnDxRowGo(in[0], in[1], out, k[0], k[1], k[2]) }},
	{"maskedBnDxRow32", 3,
		func(in [][]float32, out []float32, k [3]float32) {
			maskedBnDxRow32(in[0], in[1], in[2], out, k[0], k[1], k[2])
		},
		func(in [][]float32, out []float32, k [3]float32) {
			maskedBnDxRow32Go(in[0], in[1], in[2], out, k[0], k[1], k[2])
		}},
	{"relu32", 1,
		func(in [][]float32, out []float32, _ [3]float32) { relu32(in[0], out) },
		func(in [][]float32, out []float32, _ [3]float32) { reluKernelGo(in[0], nil, out) }},
	{"add32", 2,
		func(in [][]float32, out []float32, _ [3]float32) { add32(in[0], in[1], out) },
		func(in [][]float32, out []float32, _ [3]float32) { addGo(in[0], in[1], out) }},
	{"addRelu32", 2,
		func(in [][]float32, out []float32, _ [3]float32) { addRelu32(in[0], in[1], out) },
		func(in [][]float32, out []float32, _ [3]float32) { reluKernelGo(in[0], in[1], out) }},
	{"reluMask32", 2,
		func(in [][]float32, out []float32, _ [3]float32) { reluMask32(in[0], in[1], out) },
		func(in [][]float32, out []float32, _ [3]float32) { reluMask32Go(in[0], in[1], out) }},
}

// requireSameBits checks that got and want are bit-identical (which also compares NaNs and the
// sign of zero).
func requireSameBits(t *testing.T, want, got []float32, msg string) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
			require.Failf(t, "bits differ", "%s: element %d: want %v (%#08x), got %v (%#08x)", msg, i,
				want[i], math.Float32bits(want[i]), got[i], math.Float32bits(got[i]))
		}
	}
}

func TestElementwiseKernels(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, c := range ewCases {
		for _, n := range kernelLens {
			for off := 0; off < 4; off++ {
				t.Run(fmt.Sprintf("%s/n=%d/off=%d", c.name, n, off), func(t *testing.T) {
					in := make([][]float32, c.nin)
					for k := range in {
						in[k] = kernelInput(rng, n, (off+k)%4)
					}
					k := [3]float32{float32(rng.Float64()*2 - 1), float32(rng.Float64()*2 - 1), float32(rng.Float64()*2 - 1)}
					want := make([]float32, n)
					c.ref(in, want, k)
					out := kernelInput(rng, n, (off+3)%4)
					guard := out[:n+1][n]
					c.asm(in, out, k)
					requireSameBits(t, want, out, "out")
					require.Equal(t, math.Float32bits(guard), math.Float32bits(out[:n+1][n]), "wrote past the end")

					// in place: the output is the first input
					dst := append([]float32(nil), in[0]...)
					in2 := append([][]float32{dst}, in[1:]...)
					c.asm(in2, dst, k)
					requireSameBits(t, want, dst, "in place")
				})
			}
		}
	}
}

// specials are the IEEE special values (and neighbours of 0) for the ReLU kernels.
func specials() []float32 {
	nan := math.Float32frombits(0x7fc00000)
	return []float32{
		nan, -nan, math.Float32frombits(0x7fc12345), math.Float32frombits(0xffc12345),
		math.Float32frombits(0x7f812345), // signalling NaN
		float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)),
		1, -1, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32,
		1e-30, -1e-30, 0.5, -0.5,
	}
}

func TestReLUKernelsSpecial(t *testing.T) {
	sp := specials()
	// all pairs, in a length that exercises the 16-, 4- and 1-element loops
	var a, b []float32
	for _, u := range sp {
		for _, v := range sp {
			a, b = append(a, u), append(b, v)
		}
	}
	for _, ew := range ewCases {
		if ew.name != "relu32" && ew.name != "addRelu32" && ew.name != "reluMask32" {
			continue
		}
		t.Run(ew.name, func(t *testing.T) {
			in := [][]float32{a, b}
			want, got := make([]float32, len(a)), make([]float32, len(a))
			ew.ref(in, want, [3]float32{})
			ew.asm(in, got, [3]float32{})
			if ew.name == "addRelu32" {
				// With two NaN operands, which payload a+b keeps depends on the operand order the
				// compiler picks; only require a NaN there.
				for i := range want {
					if a[i] != a[i] && b[i] != b[i] {
						require.True(t, got[i] != got[i], "element %d: %v+%v gave %v", i, a[i], b[i], got[i])
						got[i] = want[i]
					}
				}
			}
			requireSameBits(t, want, got, ew.name)
		})
	}
	// explicit expectations for ReLU (those of Go's max on amd64): a NaN stays a NaN with its
	// payload and its sign bit cleared, -0 becomes +0
	y := make([]float32, len(sp))
	relu32(sp, y)
	for i, v := range sp {
		switch {
		case v != v:
			require.Equal(t, math.Float32bits(v)&0x7fffffff, math.Float32bits(y[i]), "NaN %#08x", math.Float32bits(v))
		case v <= 0:
			require.Equal(t, uint32(0), math.Float32bits(y[i]), "relu(%v)", v)
		default:
			require.Equal(t, v, y[i])
		}
	}
	// and the gradient mask lets dy through exactly where y's bits are not zero (NaN included)
	dy := make([]float32, len(sp))
	for i := range dy {
		dy[i] = float32(i + 1)
	}
	dx := make([]float32, len(sp))
	reluMask32(y, dy, dx)
	for i := range y {
		if math.Float32bits(y[i]) == 0 {
			require.Equal(t, float32(0), dx[i])
		} else {
			require.Equal(t, dy[i], dx[i])
		}
	}
}

// TestKernelsAgainstFormulas checks the kernels this build runs (the SSE assembly by default, the
// Go loops under purego) against their definitions computed in float64, so that the purego run,
// where TestSumKernels and TestElementwiseKernels compare the Go loops with themselves, still
// checks something; in the default build it checks the Go references the same way.
func TestKernelsAgainstFormulas(t *testing.T) {
	// passes is the ReLU-gradient mask: y's bits non-zero, y > 0 for a ReLU output.
	passes := func(y float32) float64 {
		if math.Float32bits(y) != 0 {
			return 1
		}
		return 0
	}
	type term func(in [][]float32, i int, k [3]float64) (v, scale float64)
	elementwise := []struct {
		name string
		nin  int
		run  func(in [][]float32, out []float32, k [3]float32)
		want term
	}{
		{"affineRow32", 1, func(in [][]float32, out []float32, k [3]float32) { affineRow32(in[0], out, k[0], k[1]) },
			func(in [][]float32, i int, k [3]float64) (float64, float64) {
				x := float64(in[0][i])
				return k[0]*x + k[1], math.Abs(k[0]*x) + math.Abs(k[1])
			}},
		{"affineReluRow32", 1, func(in [][]float32, out []float32, k [3]float32) { affineReluRow32(in[0], out, k[0], k[1]) },
			func(in [][]float32, i int, k [3]float64) (float64, float64) {
				x := float64(in[0][i])
				return math.Max(k[0]*x+k[1], 0), math.Abs(k[0]*x) + math.Abs(k[1])
			}},
		{"bnDxRow32", 2, func(in [][]float32, out []float32, k [3]float32) { bnDxRow32(in[0], in[1], out, k[0], k[1], k[2]) },
			func(in [][]float32, i int, k [3]float64) (float64, float64) {
				g, x := float64(in[0][i]), float64(in[1][i])
				return k[0]*g + k[1]*x + k[2], math.Abs(k[0]*g) + math.Abs(k[1]*x) + math.Abs(k[2])
			}},
		{"maskedBnDxRow32", 3, func(in [][]float32, out []float32, k [3]float32) {
			maskedBnDxRow32(in[0], in[1], in[2], out, k[0], k[1], k[2])
		},
			func(in [][]float32, i int, k [3]float64) (float64, float64) {
				g, x := passes(in[0][i])*float64(in[1][i]), float64(in[2][i])
				return k[0]*g + k[1]*x + k[2], math.Abs(k[0]*g) + math.Abs(k[1]*x) + math.Abs(k[2])
			}},
		{"relu32", 1, func(in [][]float32, out []float32, _ [3]float32) { relu32(in[0], out) },
			func(in [][]float32, i int, _ [3]float64) (float64, float64) {
				return math.Max(float64(in[0][i]), 0), math.Abs(float64(in[0][i]))
			}},
		{"add32", 2, func(in [][]float32, out []float32, _ [3]float32) { add32(in[0], in[1], out) },
			func(in [][]float32, i int, _ [3]float64) (float64, float64) {
				a, b := float64(in[0][i]), float64(in[1][i])
				return a + b, math.Abs(a) + math.Abs(b)
			}},
		{"addRelu32", 2, func(in [][]float32, out []float32, _ [3]float32) { addRelu32(in[0], in[1], out) },
			func(in [][]float32, i int, _ [3]float64) (float64, float64) {
				a, b := float64(in[0][i]), float64(in[1][i])
				return math.Max(a+b, 0), math.Abs(a) + math.Abs(b)
			}},
		{"reluMask32", 2, func(in [][]float32, out []float32, _ [3]float32) { reluMask32(in[0], in[1], out) },
			func(in [][]float32, i int, _ [3]float64) (float64, float64) {
				return passes(in[0][i]) * float64(in[1][i]), math.Abs(float64(in[1][i]))
			}},
	}
	const n = 1029 // every loop of the kernels: 16-, 4- and 1-element
	rng := rand.New(rand.NewSource(3))
	for _, c := range elementwise {
		t.Run(c.name, func(t *testing.T) {
			in := make([][]float32, c.nin)
			for j := range in {
				in[j] = kernelInput(rng, n, j%4)
			}
			k32 := [3]float32{float32(rng.Float64()*2 - 1), float32(rng.Float64()*2 - 1), float32(rng.Float64()*2 - 1)}
			k := [3]float64{float64(k32[0]), float64(k32[1]), float64(k32[2])}
			out := make([]float32, n)
			c.run(in, out, k32)
			for i := range out {
				want, scale := c.want(in, i, k)
				// float32 rounds each of up to three operations: a few ulps of the terms' size.
				require.InDelta(t, want, float64(out[i]), 3e-7*scale+1e-30, "element %d", i)
			}
		})
	}
	sums := []struct {
		name string
		nin  int
		run  func(in [][]float32, m float32) (float32, float32)
		term func(in [][]float32, i int, m float64) (a, b float64)
	}{
		{"rowSums32", 1, func(in [][]float32, m float32) (float32, float32) { return rowSums32(in[0], m) },
			func(in [][]float32, i int, m float64) (float64, float64) {
				d := float64(in[0][i]) - m
				return d, d * d
			}},
		{"gradSums32", 2, func(in [][]float32, m float32) (float32, float32) { return gradSums32(in[0], in[1], m) },
			func(in [][]float32, i int, m float64) (float64, float64) {
				g := float64(in[0][i])
				return g, g * (float64(in[1][i]) - m)
			}},
		{"maskedGradSums32", 3, func(in [][]float32, m float32) (float32, float32) {
			return maskedGradSums32(in[0], in[1], in[2], m)
		},
			func(in [][]float32, i int, m float64) (float64, float64) {
				g := passes(in[0][i]) * float64(in[1][i])
				return g, g * (float64(in[2][i]) - m)
			}},
	}
	for _, c := range sums {
		t.Run(c.name, func(t *testing.T) {
			in := make([][]float32, c.nin)
			for j := range in {
				in[j] = kernelInput(rng, n, j%4)
			}
			m32 := float32(rng.Float64() - 0.5)
			got1, got2 := c.run(in, m32)
			var want1, want2, abs1, abs2 float64
			for i := 0; i < n; i++ {
				a, b := c.term(in, i, float64(m32))
				want1, want2, abs1, abs2 = want1+a, want2+b, abs1+math.Abs(a), abs2+math.Abs(b)
			}
			require.InDelta(t, want1, float64(got1), 1e-5*abs1, "first sum")
			require.InDelta(t, want2, float64(got2), 1e-5*abs2, "second sum")
		})
	}
}
