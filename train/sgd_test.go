package train_test

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/train"
)

// golden is testdata/sgd.json, written by testdata/gen_sgd.py with torch.optim.
type golden struct {
	W0, B0 []float64
	GradsW [][]float64 `json:"grads_w"`
	GradsB [][]float64 `json:"grads_b"`
	Cases  []struct {
		Name        string
		LR          float64
		Momentum    float64
		WeightDecay float64 `json:"weight_decay"`
		Nesterov    bool
		NoDecay1D   bool `json:"no_decay_1d"`
		LRs         []float64
		W, B        [][]float64
	}
	Schedules map[string][]float64
	Total     int
	Warmup    int
}

func readGolden(t *testing.T) golden {
	raw, err := os.ReadFile("testdata/sgd.json")
	require.NoError(t, err)
	var g golden
	require.NoError(t, json.Unmarshal(raw, &g))
	require.NotEmpty(t, g.Cases)
	return g
}

func vec(shape []int, v []float64) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float64(nil), v...)))
}

// Every case follows torch.optim.SGD step by step (the weight decay acts on the weights, not on
// the velocity as in Gorgonia's Momentum solver), including a learning rate changed between steps.
func TestSGDMatchesPyTorch(t *testing.T) {
	g := readGolden(t)
	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) {
			opt, err := train.NewSGD(train.SGDConfig{LR: c.LR, Momentum: c.Momentum, WeightDecay: c.WeightDecay,
				Nesterov: c.Nesterov, NoDecay1D: c.NoDecay1D})
			require.NoError(t, err)
			w := &graph.Param{Name: "w", Value: vec([]int{3, 2}, g.W0)}
			b := &graph.Param{Name: "b", Value: vec([]int{3}, g.B0)}
			for i := range c.W {
				opt.SetLR(c.LRs[i])
				require.NoError(t, opt.Update(w, vec([]int{3, 2}, g.GradsW[i])))
				require.NoError(t, opt.Update(b, vec([]int{3}, g.GradsB[i])))
				assert.InDeltaSlice(t, c.W[i], w.Value.Data(), 1e-12, "w after step %d", i+1)
				assert.InDeltaSlice(t, c.B[i], b.Value.Data(), 1e-12, "b after step %d", i+1)
			}
		})
	}
	_, err := train.NewSGD(train.SGDConfig{LR: 0})
	assert.ErrorContains(t, err, "lr > 0")
}

// The schedules give PyTorch's MultiStepLR, CosineAnnealingLR and LinearLR→cosine rates.
func TestScheduleMatchesPyTorch(t *testing.T) {
	g := readGolden(t)
	cases := map[string]train.Schedule{
		"step":          {Kind: "step", Base: 0.1, Milestones: []float64{0.5, 0.75}, Gamma: 0.1, Total: g.Total},
		"cosine":        {Kind: "cosine", Base: 0.1, Total: g.Total},
		"warmup+cosine": {Kind: "cosine", Base: 0.1, Warmup: g.Warmup, Total: g.Total},
		"warmup+step":   {Kind: "step", Base: 0.1, Milestones: []float64{0.5, 0.75}, Gamma: 0.1, Warmup: g.Warmup, Total: g.Total},
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, s.Validate())
			want := g.Schedules[name]
			require.Len(t, want, g.Total)
			for i, lr := range want {
				assert.InDelta(t, lr, s.At(i), 1e-12, "step %d", i)
			}
		})
	}
}

func TestScheduleValidate(t *testing.T) {
	cases := []struct {
		s    train.Schedule
		want string
	}{
		{train.Schedule{Kind: "exp", Base: 0.1, Total: 10}, `schedule "exp"`},
		{train.Schedule{Kind: "cosine", Base: 0, Total: 10}, "learning rate 0"},
		{train.Schedule{Kind: "cosine", Base: 0.1, Total: 0}, "0 steps"},
		{train.Schedule{Kind: "cosine", Base: 0.1, Total: 10, Warmup: 10}, "10 warm-up steps"},
		{train.Schedule{Kind: "step", Base: 0.1, Total: 10, Gamma: 0.1, Milestones: []float64{0.7, 0.5}}, "not increasing"},
		{train.Schedule{Kind: "step", Base: 0.1, Total: 10, Gamma: 0.1, Milestones: []float64{1.5}}, "milestone 1.5"},
		{train.Schedule{Kind: "step", Base: 0.1, Total: 10, Gamma: 2}, "gamma 2"},
		{train.Schedule{Kind: "constant", Base: 0.1, Total: 10, WarmupLR: math.NaN()}, "warm-up learning rate NaN"},
		{train.Schedule{Kind: "constant", Base: 0.1, Total: 10, WarmupLR: -0.01}, "warm-up learning rate -0.01"},
	}
	for _, c := range cases {
		assert.ErrorContains(t, c.s.Validate(), c.want)
	}
}

// A constant warm-up (the paper's 0.01 for ResNet-110) holds its rate, and a warm-up ended early
// hands over to the schedule as a warm-up of that length would.
func TestScheduleConstantWarmupEndedEarly(t *testing.T) {
	s := train.Schedule{Kind: "step", Base: 0.1, Milestones: []float64{0.5}, Gamma: 0.1, Warmup: 10, WarmupLR: 0.01, Total: 30}
	require.NoError(t, s.Validate())
	for step := 0; step < 10; step++ {
		assert.Equal(t, 0.01, s.At(step), "step %d", step)
	}
	assert.Equal(t, 0.1, s.At(10))
	assert.InDelta(t, 0.01, s.At(20), 1e-15, "÷10 at half of the 20 steps after the warm-up")

	early := s.EndWarmup(4)
	assert.Equal(t, 0.01, early.At(3))
	assert.Equal(t, 0.1, early.At(4))
	assert.Equal(t, 0.1, early.At(16))
	assert.InDelta(t, 0.01, early.At(17), 1e-15, "÷10 at half of the 26 steps after the warm-up")
	same := s
	same.Warmup = 4
	for step := 0; step < 30; step++ {
		assert.Equal(t, same.At(step), early.At(step), "step %d", step)
	}
	assert.Equal(t, s, s.EndWarmup(10), "ending at or after the planned warm-up changes nothing")
	assert.Equal(t, s, s.EndWarmup(-1))
}
