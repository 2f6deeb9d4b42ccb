package resnet_test

import (
	"math/rand"
	"testing"

	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/resnet"
	"github.com/resnet-go/resnet/train"
)

func randomBatch(n, c, h, w, classes int) (*tensor.Dense, []int) {
	rng := rand.New(rand.NewSource(1))
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y := make([]int, n)
	for i := range y {
		y[i] = rng.Intn(classes)
	}
	return tensor.New(tensor.WithShape(n, c, h, w), tensor.WithBacking(x)), y
}

// BenchmarkResNet20 times ResNet-20 at batch 32 (float32): inference in evaluation mode, and a
// whole training step (forward, backward, SGD update). Allocations are per step.
func BenchmarkResNet20(b *testing.B) {
	s, err := resnet.CIFAR(20, 10)
	if err != nil {
		b.Fatal(err)
	}
	const batch = 32
	x, y := randomBatch(batch, 3, 32, 32, 10)
	b.Run("forward", func(b *testing.B) {
		p, _ := graph.NewParams(tensor.Float32, 1)
		e, err := train.NewEvaluator(s, p, batch, 32, 32)
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := e.Logits(x); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(batch*float64(b.N)/b.Elapsed().Seconds(), "img/s")
	})
	b.Run("train-step", func(b *testing.B) {
		p, _ := graph.NewParams(tensor.Float32, 1)
		opt, _ := train.NewSGD(train.SGDConfig{LR: 0.1, Momentum: 0.9, WeightDecay: 1e-4})
		t, err := train.NewTrainer(s, p, graph.Config{}, batch, 32, 32, opt)
		if err != nil {
			b.Fatal(err)
		}
		defer t.Close()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := t.Step(x, y); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(batch*float64(b.N)/b.Elapsed().Seconds(), "img/s")
	})
}
