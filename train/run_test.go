package train_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/resnet"
	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/data"
	"github.com/resnet-go/resnet/train/runlog"
)

// smallConfig is a run of a few seconds: ResNet-8 on part of the synthetic set.
func smallConfig() train.Config {
	c := train.DefaultConfig()
	c.Model, c.Data, c.TrainLimit, c.Val = "resnet8", "synthetic", 320, 64
	c.Epochs, c.Batch, c.EvalBatch = 3, 32, 100
	c.Schedule, c.WarmupEpochs, c.Pad, c.Flip = "cosine", 0, 0, false
	return c
}

// observer calls a function at every step.
type observer func(t *train.Trainer, epoch, step int) error

func (o observer) Observe(t *train.Trainer, epoch, step int, _ *data.Batch) error {
	return o(t, epoch, step)
}

func TestRunLearnsAndWritesItsFiles(t *testing.T) {
	dir := t.TempDir()
	res, err := train.Run(context.Background(), smallConfig(), train.Options{Dir: dir})
	require.NoError(t, err)
	require.Len(t, res.Records, 3)
	first, last := res.Records[0], res.Final()
	assert.Less(t, last.TrainLoss, first.TrainLoss)
	assert.Less(t, last.TestErr, 0.5, "the synthetic classes are easy")
	assert.False(t, math.IsNaN(last.ValErr), "validation measured")
	assert.Equal(t, 3*(256/32), last.Step)
	for _, f := range []string{train.CheckpointFile, train.ConfigFile, train.CurvesFile, train.MetricsFile, "metrics.csv"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
		assert.NotZero(t, fi.Size(), f)
	}
	recs, err := runlog.ReadRecords(filepath.Join(dir, train.MetricsFile))
	require.NoError(t, err)
	assert.Equal(t, res.Records, recs)

	// The run directory is not overwritten by a new run.
	_, err = train.Run(context.Background(), smallConfig(), train.Options{Dir: dir})
	assert.ErrorContains(t, err, "already holds a run")

	// The checkpoint's evaluator reproduces the last test error.
	ck, err := train.LoadCheckpoint(filepath.Join(dir, train.CheckpointFile))
	require.NoError(t, err)
	assert.Equal(t, 3, ck.State.Epoch)
	test, err := data.Open("synthetic", "", "test")
	require.NoError(t, err)
	require.NoError(t, ck.Fits(test))
	ev, err := ck.Evaluator(100)
	require.NoError(t, err)
	defer ev.Close()
	l, err := data.NewLoader(test, data.LoaderConfig{Batch: 100, Mean: ck.State.Mean, Std: ck.State.Std})
	require.NoError(t, err)
	m, err := train.Evaluate(ev, l)
	require.NoError(t, err)
	assert.Equal(t, last.TestErr, m.Err)
	assert.InDelta(t, last.TestLoss, m.Loss, 1e-12)
}

// A run stopped after two epochs and resumed from its checkpoint gives the same numbers, bit for
// bit, as an uninterrupted run: weights, BN statistics, momentum, step count, shuffling and
// augmentation all continue where they were.
func TestResumeReproducesAnUninterruptedRun(t *testing.T) {
	cfg := smallConfig() // with every random part of the recipe
	cfg.Pad, cfg.Flip = 2, true
	cfg.Schedule, cfg.Milestones, cfg.Gamma, cfg.WarmupEpochs = "step", []float64{0.5, 0.75}, 0.1, 0.5
	whole, err := train.Run(context.Background(), cfg, train.Options{Dir: t.TempDir()})
	require.NoError(t, err)

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	stop := observer(func(_ *train.Trainer, epoch, _ int) error {
		if epoch == 3 {
			cancel()
		}
		return nil
	})
	_, err = train.Run(ctx, cfg, train.Options{Dir: dir, Observer: stop})
	require.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "the checkpoint of epoch 2 is intact")

	resumed, err := train.Run(context.Background(), cfg, train.Options{Dir: dir, Resume: true})
	require.NoError(t, err)
	require.Len(t, resumed.Records, 3)
	for i, w := range whole.Records {
		r := resumed.Records[i]
		assert.Equal(t, []float64{w.LR, w.TrainLoss, w.TrainErr, w.ValLoss, w.ValErr, w.TestLoss, w.TestErr},
			[]float64{r.LR, r.TrainLoss, r.TrainErr, r.ValLoss, r.ValErr, r.TestLoss, r.TestErr}, "epoch %d", i+1)
		assert.Equal(t, w.Step, r.Step)
	}
	for _, p := range whole.Params.All() {
		q, ok := resumed.Params.Get(p.Name)
		require.True(t, ok)
		assert.Equal(t, p.Value.Data(), q.Value.Data(), p.Name)
	}

	// A changed setting is refused, naming it.
	cfg.LR = 0.2
	_, err = train.Run(context.Background(), cfg, train.Options{Dir: dir, Resume: true})
	assert.ErrorContains(t, err, "differs from the checkpoint's (lr 0.1 there, 0.2 now)")
}

// A loss that turns NaN stops the run with a clear error and leaves the last good checkpoint.
func TestNaNStopsTheRun(t *testing.T) {
	dir := t.TempDir()
	poison := observer(func(tr *train.Trainer, epoch, step int) error {
		if epoch == 2 {
			w := tr.Params()[0].Param.Value.Data().([]float32)
			w[0] = float32(math.NaN())
		}
		return nil
	})
	_, err := train.Run(context.Background(), smallConfig(), train.Options{Dir: dir, Observer: poison})
	require.ErrorIs(t, err, train.ErrNonFinite)
	assert.ErrorContains(t, err, "epoch 2, step 10")
	assert.ErrorContains(t, err, "the checkpoint of epoch 1 is intact")
	ck, err := train.LoadCheckpoint(filepath.Join(dir, train.CheckpointFile))
	require.NoError(t, err)
	assert.Equal(t, 1, ck.State.Epoch)
	recs, err := runlog.ReadRecords(filepath.Join(dir, train.MetricsFile))
	require.NoError(t, err)
	assert.Len(t, recs, 1)
}

func TestCheckpointOfAnotherModel(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig()
	cfg.Epochs = 1
	_, err := train.Run(context.Background(), cfg, train.Options{Dir: dir})
	require.NoError(t, err)
	ck, err := train.LoadCheckpoint(filepath.Join(dir, train.CheckpointFile))
	require.NoError(t, err)

	s, err := resnet.ByName("resnet14", 10, 1)
	require.NoError(t, err)
	p, err := graph.NewParams(tensor.Float32, 1)
	require.NoError(t, err)
	ev, err := train.NewEvaluator(s, p, 2, 28, 28)
	require.NoError(t, err)
	ev.Close()
	assert.ErrorContains(t, ck.Restore(p, nil), "has no layer1.1.conv1.weight: it holds another model")

	s, err = resnet.ByName("resnet8", 5, 1)
	require.NoError(t, err)
	p, err = graph.NewParams(tensor.Float32, 1)
	require.NoError(t, err)
	ev, err = train.NewEvaluator(s, p, 2, 28, 28)
	require.NoError(t, err)
	ev.Close()
	assert.ErrorContains(t, ck.Restore(p, nil), "fc.weight has shape [10 64], the model wants (5, 64)")

	bad := filepath.Join(dir, "bad.ckpt")
	require.NoError(t, os.WriteFile(bad, []byte("not a checkpoint at all"), 0o644))
	_, err = train.LoadCheckpoint(bad)
	assert.ErrorContains(t, err, bad)
}

// In evaluation mode BatchNorm normalises with the running statistics: an example's logits do
// not depend on the rest of its batch, and change when the running statistics change.
func TestEvalBatchNormUsesRunningStatistics(t *testing.T) {
	s, err := resnet.ByName("resnet8", 3, 1)
	require.NoError(t, err)
	p, err := graph.NewParams(tensor.Float64, 2)
	require.NoError(t, err)
	ev4, err := train.NewEvaluator(s, p, 4, 8, 8)
	require.NoError(t, err)
	defer ev4.Close()
	ev1, err := train.NewEvaluator(s, p, 1, 8, 8)
	require.NoError(t, err)
	defer ev1.Close()
	for _, e := range p.Buffers() {
		d := e.Value.Data().([]float64)
		for i := range d {
			if strings.HasSuffix(e.Name, "running_var") {
				d[i] = 0.5 + 0.1*float64(i%7)
			} else {
				d[i] = 0.01 * float64(i%5)
			}
		}
	}
	x := tensor.New(tensor.WithShape(4, 1, 8, 8), tensor.WithBacking(make([]float64, 4*64)))
	xd := x.Data().([]float64)
	for i := range xd {
		xd[i] = math.Sin(float64(i)) * float64(1+i/64)
	}
	all, err := ev4.Logits(x)
	require.NoError(t, err)
	allData := append([]float64(nil), all.Data().([]float64)...)
	for i := 0; i < 4; i++ {
		xi := tensor.New(tensor.WithShape(1, 1, 8, 8), tensor.WithBacking(append([]float64(nil), x.Data().([]float64)[i*64:(i+1)*64]...)))
		one, err := ev1.Logits(xi)
		require.NoError(t, err)
		assert.InDeltaSlice(t, allData[i*3:(i+1)*3], one.Data(), 1e-12, "example %d alone", i)
	}
	v, ok := p.Get("bn1.running_var")
	require.True(t, ok)
	v.Value.Data().([]float64)[0] *= 4
	changed, err := ev4.Logits(x)
	require.NoError(t, err)
	assert.NotEqual(t, allData, changed.Data(), "the running variance is used")
}
