package train_test

import (
	"context"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/resnet"
	"github.com/resnet-go/resnet/train"
)

func probeTrainer(t *testing.T, cfg graph.Config) *train.Trainer {
	s, err := resnet.ByName("resnet14", 2, 1)
	require.NoError(t, err)
	p, err := graph.NewParams(tensor.Float64, 5)
	require.NoError(t, err)
	opt, err := train.NewSGD(train.SGDConfig{LR: 0.1})
	require.NoError(t, err)
	tr, err := train.NewTrainer(s, p, cfg, 6, 8, 8, opt)
	require.NoError(t, err)
	t.Cleanup(func() { tr.Close() })
	return tr
}

func float64Batch(n int) (*tensor.Dense, []int) {
	rng := rand.New(rand.NewSource(9))
	x := make([]float64, n*64)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	labels := make([]int, n)
	for i := range labels {
		labels[i] = i % 2
	}
	return tensor.New(tensor.WithShape(n, 1, 8, 8), tensor.WithBacking(x)), labels
}

// Building for the probe (BN and ReLU unfused, extra gradients) changes no number.
func TestProbeChangesNothing(t *testing.T) {
	plain, probed := probeTrainer(t, graph.Config{}), probeTrainer(t, graph.Config{Probe: true})
	x, y := float64Batch(6)
	l1, err := plain.Compute(x, y)
	require.NoError(t, err)
	l2, err := probed.Compute(x, y)
	require.NoError(t, err)
	assert.InDelta(t, l1, l2, 1e-12)
	for i, bd := range plain.Params() {
		g1, err := plain.Gradient(bd)
		require.NoError(t, err)
		g2, err := probed.Gradient(probed.Params()[i])
		require.NoError(t, err)
		assert.InDeltaSlice(t, g1.Data(), g2.Data(), 1e-12, bd.Param.Name)
	}
	assert.Nil(t, plain.BlockInputGradients())
	assert.Len(t, probed.BlockInputGradients(), 6)
	assert.Len(t, probed.Responses(), 1+6*2)
}

// With γ = 0 on the last BN of every branch, a block with an identity shortcut passes the
// gradient of its output straight to its input: ∂L/∂x = ∂L/∂y·[y > 0], the identity term of
// ∂L/∂y·(1 + ∂F/∂x) with ∂F/∂x = 0. The values read are those of gorgonia.Grad's nodes.
func TestProbeSeesTheIdentityPath(t *testing.T) {
	tr := probeTrainer(t, graph.Config{Probe: true, ZeroInitResidual: true})
	x, y := float64Batch(6)
	_, err := tr.Compute(x, y)
	require.NoError(t, err)
	g := tr.BlockInputGradients()
	names := make([]string, len(g))
	for i, r := range g {
		names[i] = r.Name
	}
	require.Equal(t, []string{"layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1"}, names)
	for _, i := range []int{0, 1, 3} { // blocks with an identity shortcut, followed by another block
		in, out := g[i].Value.Data().([]float64), g[i+1].Value.Data().([]float64)
		require.Equal(t, len(in), len(out), g[i].Name)
		nonzero := 0
		for j := range in {
			if in[j] != 0 {
				require.Equal(t, out[j], in[j], "%s element %d", g[i].Name, j)
				nonzero++
			}
		}
		assert.Greater(t, nonzero, len(in)/50, g[i].Name)
	}

	// In training mode BN output has the std of γ: 1 for the first BN of a branch, 0 for the last.
	rows, err := train.Measure(tr, 0, 0)
	require.NoError(t, err)
	for _, r := range rows {
		if r.Kind != train.ResponseStd {
			continue
		}
		want := 1.0
		if strings.HasSuffix(r.Layer, ".bn2") {
			want = 0
		}
		assert.InDelta(t, want, r.Value, 1e-3, r.Layer)
	}
}

func TestRunWritesTheProbe(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig()
	cfg.Epochs = 1
	res, err := train.Run(context.Background(), cfg, train.Options{Dir: dir, ProbeEvery: 3})
	require.NoError(t, err)
	rows, err := train.ReadProbeCSV(filepath.Join(dir, train.ProbeFile))
	require.NoError(t, err)
	assert.Equal(t, res.Probe, rows)
	steps := map[int]int{}
	kinds := map[string]int{}
	for _, r := range rows {
		steps[r.Step]++
		kinds[r.Kind]++
	}
	// 8 steps: measured before steps 1, 3 and 6; resnet8 has 3 blocks, 7 convs (option A), 7 BNs.
	assert.Equal(t, map[int]int{0: 17, 2: 17, 5: 17}, steps)
	assert.Equal(t, map[string]int{train.InputGrad: 9, train.WeightGrad: 21, train.ResponseStd: 21}, kinds)
}
