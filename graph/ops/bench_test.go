package ops

import (
	"fmt"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// benchGraph builds y = build(g) in float32; with backward it adds the op's gradient nodes for a
// fixed random dy (through the op's SymDiff, so no other op is timed), then times RunAll.
func benchGraph(b *testing.B, backward bool, build func(g *G.ExprGraph, rng *rand.Rand, in *G.Nodes) (*G.Node, error)) {
	rng := rand.New(rand.NewSource(1))
	g := G.NewGraph()
	var in G.Nodes
	y, err := build(g, rng, &in)
	if err != nil {
		b.Fatal(err)
	}
	if backward {
		dy := G.NodeFromAny(g, randOf(rng, tensor.Float32, -1, 1, y.Shape()...), G.WithName("dy"))
		op := y.Op().(G.SDOp)
		if _, err := op.SymDiff(in, y, dy); err != nil {
			b.Fatal(err)
		}
	}
	runMachine(b, G.NewTapeMachine(g))
}

// runMachine runs m once untimed (first-run allocations), then b.N timed runs, and closes it.
func runMachine(b *testing.B, m G.VM) {
	defer m.Close()
	if err := m.RunAll(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Reset()
		if err := m.RunAll(); err != nil {
			b.Fatal(err)
		}
	}
}

func input32(g *G.ExprGraph, rng *rand.Rand, name string, shape ...int) *G.Node {
	return G.NodeFromAny(g, randOf(rng, tensor.Float32, -1, 1, shape...), G.WithName(name))
}

var benchConvs = []struct{ b, c, h, o, k, s, p int }{
	{128, 16, 32, 16, 3, 1, 1},
	{128, 64, 8, 64, 3, 1, 1},
	{128, 16, 32, 32, 3, 2, 1},
	{8, 16, 32, 16, 3, 1, 1},
	// ResNet-18 inference at batch 1 (224x224): the stem and one 3x3 convolution per stage.
	{1, 3, 224, 64, 7, 2, 3},
	{1, 64, 56, 64, 3, 1, 1},
	{1, 128, 28, 128, 3, 1, 1},
	{1, 256, 14, 256, 3, 1, 1},
	{1, 512, 7, 512, 3, 1, 1},
	{1, 64, 56, 128, 3, 2, 1},
	{1, 128, 28, 256, 3, 2, 1},
	{1, 256, 14, 512, 3, 2, 1},
	{1, 64, 56, 128, 1, 2, 0},
}

func BenchmarkConv(b *testing.B) {
	for _, c := range benchConvs {
		for _, bwd := range []bool{false, true} {
			name := fmt.Sprintf("%dx%dx%dx%d-%d/k%ds%d/fwd", c.b, c.c, c.h, c.h, c.o, c.k, c.s)
			if bwd {
				name += "bwd"
			}
			b.Run(name, func(b *testing.B) {
				benchGraph(b, bwd, func(g *G.ExprGraph, rng *rand.Rand, in *G.Nodes) (*G.Node, error) {
					x := input32(g, rng, "x", c.b, c.c, c.h, c.h)
					w := input32(g, rng, "w", c.o, c.c, c.k, c.k)
					*in = G.Nodes{x, w}
					return Conv2d(x, w, ConvParams{StrideH: c.s, StrideW: c.s, PadH: c.p, PadW: c.p})
				})
				// Multiply-adds count two flops; the backward pass is two products of the same size.
				oh := (c.h+2*c.p-c.k)/c.s + 1
				flops := 2 * float64(c.b*c.o*oh*oh*c.c*c.k*c.k)
				if bwd {
					flops *= 3
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gflop/s")
			})
		}
	}
}

// BenchmarkConvBias is BenchmarkConv with a bias (Conv2dBias): the forward op adds it to every
// output plane; the backward pass adds the bias gradient op.
func BenchmarkConvBias(b *testing.B) {
	for _, c := range benchConvs {
		for _, bwd := range []bool{false, true} {
			name := fmt.Sprintf("%dx%dx%dx%d-%d/k%ds%d/fwd", c.b, c.c, c.h, c.h, c.o, c.k, c.s)
			if bwd {
				name += "bwd"
			}
			b.Run(name, func(b *testing.B) {
				benchGraph(b, bwd, func(g *G.ExprGraph, rng *rand.Rand, in *G.Nodes) (*G.Node, error) {
					x := input32(g, rng, "x", c.b, c.c, c.h, c.h)
					w := input32(g, rng, "w", c.o, c.c, c.k, c.k)
					bias := input32(g, rng, "bias", c.o)
					*in = G.Nodes{x, w, bias}
					return Conv2dBias(x, w, bias, ConvParams{StrideH: c.s, StrideW: c.s, PadH: c.p, PadW: c.p})
				})
			})
		}
	}
}

var benchShapes = [][]int{{128, 16, 32, 32}, {128, 64, 8, 8}}

func BenchmarkBatchNorm(b *testing.B) {
	for _, s := range benchShapes {
		for _, relu := range []bool{false, true} {
			for _, bwd := range []bool{false, true} {
				name := fmt.Sprintf("%v/relu=%t/fwd", s, relu)
				if bwd {
					name += "bwd"
				}
				b.Run(name, func(b *testing.B) {
					benchGraph(b, bwd, func(g *G.ExprGraph, rng *rand.Rand, in *G.Nodes) (*G.Node, error) {
						x := input32(g, rng, "x", s...)
						gm, bt := input32(g, rng, "g", s[1]), input32(g, rng, "b", s[1])
						st := newStats(tensor.Float32, s[1], true)
						*in = G.Nodes{x, gm, bt}
						if relu {
							return BatchNormReLU(x, gm, bt, st)
						}
						return BatchNorm(x, gm, bt, st)
					})
				})
			}
		}
	}
}

func BenchmarkReLU(b *testing.B) {
	for _, s := range benchShapes {
		for _, add := range []bool{false, true} {
			for _, bwd := range []bool{false, true} {
				name := fmt.Sprintf("%v/add=%t/fwd", s, add)
				if bwd {
					name += "bwd"
				}
				b.Run(name, func(b *testing.B) {
					benchGraph(b, bwd, func(g *G.ExprGraph, rng *rand.Rand, in *G.Nodes) (*G.Node, error) {
						x := input32(g, rng, "x", s...)
						*in = G.Nodes{x}
						if add {
							x2 := input32(g, rng, "x2", s...)
							*in = G.Nodes{x, x2}
							return AddReLU(x, x2)
						}
						return ReLU(x)
					})
				})
			}
		}
	}
}

// BenchmarkBasicBlock times a ResNet basic block, relu(bn(conv(relu(bn(conv(x))))) + x), with
// 3x3 convolutions, forward and backward (G.Backpropagate from a fixed random dy, gradients for
// x and all parameters), float32.
func BenchmarkBasicBlock(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(fmt.Sprint(s), func(b *testing.B) {
			rng := rand.New(rand.NewSource(1))
			g := G.NewGraph()
			c := s[1]
			x := input32(g, rng, "x", s...)
			w1, w2 := input32(g, rng, "w1", c, c, 3, 3), input32(g, rng, "w2", c, c, 3, 3)
			g1, b1 := input32(g, rng, "g1", c), input32(g, rng, "b1", c)
			g2, b2 := input32(g, rng, "g2", c), input32(g, rng, "b2", c)
			p := ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
			h := G.Must(Conv2d(x, w1, p))
			h = G.Must(BatchNormReLU(h, g1, b1, newStats(tensor.Float32, c, true)))
			h = G.Must(Conv2d(h, w2, p))
			h = G.Must(BatchNorm(h, g2, b2, newStats(tensor.Float32, c, true)))
			y := G.Must(AddReLU(h, x))
			dy := G.NodeFromAny(g, randOf(rng, tensor.Float32, -1, 1, s...), G.WithName("dy"))
			wrt := G.Nodes{x, w1, g1, b1, w2, g2, b2}
			if _, err := G.Backpropagate(G.Nodes{y}, G.Nodes{dy}, wrt); err != nil {
				b.Fatal(err)
			}
			runMachine(b, G.NewTapeMachine(g, G.BindDualValues(wrt...)))
		})
	}
}

// BenchmarkMaxPool times the stem pool of the ImageNet nets (3x3, stride 2, padding 1) on
// ResNet-18's stem output at batch 1; the backward variant keeps the argmax.
func BenchmarkMaxPool(b *testing.B) {
	for _, bwd := range []bool{false, true} {
		name := "1x64x112x112/fwd"
		if bwd {
			name += "bwd"
		}
		b.Run(name, func(b *testing.B) {
			benchGraph(b, bwd, func(g *G.ExprGraph, rng *rand.Rand, in *G.Nodes) (*G.Node, error) {
				x := input32(g, rng, "x", 1, 64, 112, 112)
				*in = G.Nodes{x}
				return MaxPool2d(x, 3, 2, 1)
			})
		})
	}
}
