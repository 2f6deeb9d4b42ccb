package ops

import (
	"fmt"
	"testing"

	"gorgonia.org/tensor"
)

func BenchmarkTmpGemm(b *testing.B) {
	for _, s := range []struct{ m, n, k int; ta, tb bool }{
		{16, 144, 1024, false, false}, {144, 16, 1024, true, false}, {144,16,1024,false,true}, {16, 1024, 144, false, false}, {16, 256, 144, false, false}, {32, 256, 288, false, false}, {288, 256, 32, true, false}, {32, 288, 256, false, true},
		{144, 1024, 16, true, false}, {144, 256, 16, true, false},
		{16, 144, 1024, false, true}, {16, 144, 256, false, true},
		{64, 64, 576, false, false}, {576, 64, 64, true, false}, {64, 576, 64, false, true},
	} {
		b.Run(fmt.Sprintf("%dx%dx%d/%t%t", s.m, s.n, s.k, s.ta, s.tb), func(b *testing.B) {
			a := make([]float32, s.m*s.k)
			bb := make([]float32, s.k*s.n)
			c := make([]float32, s.m*s.n)
			for i := range a { a[i] = float32(i%7) - 3 }
			for i := range bb { bb[i] = float32(i%5) - 2 }
			lda, ldb := s.k, s.n
			if s.ta { lda = s.m }
			if s.tb { ldb = s.k }
			b.SetBytes(int64(2 * s.m * s.n * s.k)) // "bytes" = flops
			for i := 0; i < b.N; i++ {
				gemm(s.ta, s.tb, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
			}
		})
	}
}

func BenchmarkTmpDx(b *testing.B) {
	for _, c := range benchConvs[:2] {
		g := convGeom{B: c.b, C: c.c, H: c.h, W: c.h, O: c.o, KH: c.k, KW: c.k, SH: c.s, SW: c.s, PH: c.p, PW: c.p}
		g.OH, g.OW = (g.H+2*g.PH-g.KH)/g.SH+1, (g.W+2*g.PW-g.KW)/g.SW+1
		w := make([]float32, g.O*g.K())
		dy := make([]float32, g.B*g.O*g.OHW())
		dx := make([]float32, g.B*g.CHW())
		for i := range w { w[i] = float32(i%7) - 3 }
		for i := range dy { dy[i] = float32(i%5) - 2 }
		for _, tr := range []bool{false, true} {
			b.Run(fmt.Sprintf("%v/transposed=%t", g, tr), func(b *testing.B) {
				var s scratch
				for i := 0; i < b.N; i++ {
					convBackwardData(g, &s, w, dy, dx)
				}
			})
		}
	}
}

func BenchmarkTmpBN(b *testing.B) {
	for _, relu := range []bool{false, true} {
		shape := []int{128, 16, 32, 32}
		n := 128 * 16 * 32 * 32
		x, y, dy, dx := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range x {
			x[i] = float32(i%13) - 6
			dy[i] = float32(i%7) - 3
		}
		gamma, beta := make([]float32, 16), make([]float32, 16)
		for i := range gamma {
			gamma[i] = 1
		}
		st := newStats(tensor.Float32, 16, true)
		s := &bnShared{st: st, relu: relu, dt: tensor.Float32, xShape: shape, B: 128, C: 16, HW: 1024,
			mean: make([]float64, 16), invstd: make([]float64, 16), dgamma: make([]float64, 16), dbeta: make([]float64, 16)}
		b.Run(fmt.Sprintf("fwd/relu=%t", relu), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				bnForward(s, x, gamma, beta, y)
			}
		})
		for _, fm := range []bool{false, true} {
			b.Run(fmt.Sprintf("bwd/relu=%t/fused=%t", relu, fm), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					bnBackward(s, x, gamma, y, dy, dx)
				}
			})
		}
	}
	n := 128 * 16 * 32 * 32
	x, y, dy := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(i%13) - 6
	}
	b.Run("relu", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			parallelMin(n, reluChunk, func(_, lo, hi int) { reluKernel(x[lo:hi], nil, y[lo:hi]) })
		}
	})
	b.Run("relumask", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			parallelMin(n, reluChunk, func(_, lo, hi int) { reluMask(x[lo:hi], x[lo:hi], dy[lo:hi]) })
		}
	})
}
