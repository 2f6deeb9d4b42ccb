package train_test

import (
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/resnet"
	"github.com/resnet-go/resnet/train"
)

// batch makes a two-class problem: class 1 images are brighter on the left half.
func batch(rng *rand.Rand, n int) (*tensor.Dense, []int) {
	x := make([]float32, n*1*8*8)
	labels := make([]int, n)
	for i := range labels {
		labels[i] = rng.Intn(2)
		for j := 0; j < 64; j++ {
			v := rng.NormFloat64() * 0.5
			if labels[i] == 1 && j%8 < 4 {
				v += 1
			}
			x[i*64+j] = float32(v)
		}
	}
	return tensor.New(tensor.WithShape(n, 1, 8, 8), tensor.WithBacking(x)), labels
}

// A small ResNet learns a separable problem, and the evaluation graph over the same store sees
// the trained weights and running statistics.
func TestTrainerLearns(t *testing.T) {
	s, err := resnet.ByName("resnet8", 2, 1)
	require.NoError(t, err)
	p, err := graph.NewParams(tensor.Float32, 1)
	require.NoError(t, err)
	opt, err := train.NewSGD(train.SGDConfig{LR: 0.05, Momentum: 0.9, WeightDecay: 1e-4})
	require.NoError(t, err)
	tr, err := train.NewTrainer(s, p, graph.Config{}, 16, 8, 8, opt)
	require.NoError(t, err)
	defer tr.Close()
	rng := rand.New(rand.NewSource(3))
	var first, last float64
	for i := 0; i < 40; i++ {
		x, y := batch(rng, 16)
		loss, err := tr.Step(x, y)
		require.NoError(t, err)
		require.False(t, math.IsNaN(loss))
		if i == 0 {
			first = loss
		}
		last = loss
	}
	assert.Less(t, last, first/2, "loss %g → %g", first, last)

	ev, err := train.NewEvaluator(s, p, 64, 8, 8)
	require.NoError(t, err)
	defer ev.Close()
	x, y := batch(rng, 64)
	logits, err := ev.Logits(x)
	require.NoError(t, err)
	l := logits.Data().([]float32)
	correct := 0
	for i, label := range y {
		if (l[2*i+1] > l[2*i]) == (label == 1) {
			correct++
		}
	}
	assert.GreaterOrEqual(t, correct, 56, "eval accuracy %d/64", correct)
}

func TestTrainerBadBatch(t *testing.T) {
	s, err := resnet.ByName("resnet8", 2, 1)
	require.NoError(t, err)
	p, err := graph.NewParams(tensor.Float32, 1)
	require.NoError(t, err)
	opt, err := train.NewSGD(train.SGDConfig{LR: 0.1})
	require.NoError(t, err)
	tr, err := train.NewTrainer(s, p, graph.Config{}, 4, 8, 8, opt)
	require.NoError(t, err)
	defer tr.Close()
	rng := rand.New(rand.NewSource(1))
	x, _ := batch(rng, 4)
	_, err = tr.Step(x, []int{0, 1, 2, 0})
	assert.ErrorContains(t, err, "label 2 of example 2 is outside [0, 2)")
	_, err = tr.Step(x, []int{0, 1})
	assert.ErrorContains(t, err, "2 labels for a batch of 4")
	x8, y8 := batch(rng, 8)
	_, err = tr.Step(x8, y8)
	assert.ErrorContains(t, err, "the graph wants")
}
