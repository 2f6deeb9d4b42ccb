package blocks_test

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/blocks"
	"github.com/resnet-go/resnet/graph"
)

// benchBlock times one block at batch 32 in float32: forward only, or forward and backward
// (gradients of Σ y·r with respect to the input and every parameter).
func benchBlock(b *testing.B, c blocks.Config, in []int, backward bool) {
	p, err := graph.NewParams(tensor.Float32, 1)
	if err != nil {
		b.Fatal(err)
	}
	g := G.NewGraph()
	bl := graph.NewBuilder(g, p, graph.Config{})
	x := bl.InputWithGrad("x", in...)
	y := blocks.Build(bl, x, c)
	if err := bl.Err(); err != nil {
		b.Fatal(err)
	}
	data := make([]float32, x.Shape().TotalSize())
	for i := range data {
		data[i] = float32(i%17) - 8
	}
	if err := G.Let(x, tensor.New(tensor.WithShape(in...), tensor.WithBacking(data))); err != nil {
		b.Fatal(err)
	}
	if backward {
		flat := G.Must(G.Reshape(y, tensor.Shape{y.Shape().TotalSize()}))
		loss := G.Must(G.Sum(flat))
		wrt := G.Nodes{x}
		for _, bd := range bl.Trainable() {
			wrt = append(wrt, bd.Node)
		}
		if _, err := G.Grad(loss, wrt...); err != nil {
			b.Fatal(err)
		}
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(in[0])*float64(b.N)/b.Elapsed().Seconds(), "img/s")
}

func BenchmarkBasicBlock(b *testing.B) {
	c := blocks.Config{Kind: blocks.Basic, Planes: 64, Stride: 1}
	in := []int{32, 64, 16, 16}
	b.Run("forward", func(b *testing.B) { benchBlock(b, c, in, false) })
	b.Run("forward+backward", func(b *testing.B) { benchBlock(b, c, in, true) })
}

func BenchmarkBottleneck(b *testing.B) {
	c := blocks.Config{Kind: blocks.Bottleneck, Planes: 64, Stride: 1}
	in := []int{32, 256, 14, 14}
	b.Run("forward", func(b *testing.B) { benchBlock(b, c, in, false) })
	b.Run("forward+backward", func(b *testing.B) { benchBlock(b, c, in, true) })
}
