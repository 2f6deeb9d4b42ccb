package train_test

import (
	"context"
	"encoding/json"
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
	"github.com/resnet-go/resnet/train/checkpoint"
	"github.com/resnet-go/resnet/train/data"
	"github.com/resnet-go/resnet/train/rundir"
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
	first := res.Records[0]
	last, ok := res.Final()
	require.True(t, ok)
	assert.Less(t, last.TrainLoss, first.TrainLoss)
	assert.Less(t, last.TestErr, 0.5, "the synthetic classes are easy")
	assert.False(t, math.IsNaN(last.ValErr), "validation measured")
	assert.Equal(t, 3*(256/32), last.Step)
	// With a validation set, best.ckpt holds the epoch of lowest validation error.
	best, err := train.LoadCheckpoint(filepath.Join(dir, train.BestFile))
	require.NoError(t, err)
	bestEpoch := 1
	for _, rec := range res.Records {
		if rec.ValErr < res.Records[bestEpoch-1].ValErr {
			bestEpoch = rec.Epoch
		}
	}
	assert.Equal(t, bestEpoch, best.State.Epoch)
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

// A diverged loss stops the run with a clear error, before the bad update or before saving
// the epoch, and leaves the last good checkpoint, from which the run resumes.
func TestDivergenceStopsTheRun(t *testing.T) {
	set := func(name string, v func(i int) float32) observer {
		return func(tr *train.Trainer, epoch, step int) error {
			if epoch == 2 {
				p, ok := tr.Model.Builder.Params().Get(name)
				require.True(t, ok, name)
				d := p.Value.Data().([]float32)
				for i := range d {
					d[i] = v(i)
				}
			}
			return nil
		}
	}
	for _, tc := range []struct {
		name   string
		poison observer
		want   string
	}{
		{"NaN training loss", set("conv1.weight", func(int) float32 { return float32(math.NaN()) }), "epoch 2, step 10 (lr "},
		{"training loss beyond MaxLoss", set("fc.weight", func(i int) float32 { return float32(1e9 * float64(i%7)) }), "epoch 2, step 10 (lr "},
		// Running statistics are used only in evaluation: training goes on, evaluation is NaN.
		{"NaN only in evaluation", set("bn1.running_var", func(int) float32 { return float32(math.NaN()) }), "loss diverged: validation loss NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := train.Run(context.Background(), smallConfig(), train.Options{Dir: dir, Observer: tc.poison})
			require.ErrorIs(t, err, train.ErrDiverged)
			assert.ErrorContains(t, err, tc.want)
			assert.ErrorContains(t, err, "the checkpoint of epoch 1 is ")
			ck, err := train.LoadCheckpoint(filepath.Join(dir, train.CheckpointFile))
			require.NoError(t, err)
			assert.Equal(t, 1, ck.State.Epoch)
			recs, err := runlog.ReadRecords(filepath.Join(dir, train.MetricsFile))
			require.NoError(t, err)
			assert.Len(t, recs, 1)

			s, err := train.Prepare(smallConfig(), train.Options{Dir: dir, Resume: true})
			require.NoError(t, err, "the last good state resumes")
			s.Close()
		})
	}
}

// State on disk that disagrees with the checkpoint is reported, never indexed blindly.
func TestResumeOfInconsistentRun(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig()
	cfg.Epochs = 1
	_, err := train.Run(context.Background(), cfg, train.Options{Dir: dir})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, train.MetricsFile), nil, 0o644))
	_, err = train.Run(context.Background(), cfg, train.Options{Dir: dir, Resume: true})
	assert.ErrorContains(t, err, "metrics.jsonl holds 0 records but the checkpoint is after epoch 1: the run directory is inconsistent")

	assert.NotPanics(t, func() {
		_, ok := (&train.Result{}).Final()
		assert.False(t, ok)
	})
}

// A run directory belongs to one process at a time; a refused run leaves no directory behind.
func TestRunDirectoryIsOwned(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	cfg := smallConfig()
	cfg.Epochs = 1
	inside, release := make(chan struct{}), make(chan struct{})
	hold := observer(func(*train.Trainer, int, int) error {
		if inside != nil {
			close(inside)
			inside = nil
			<-release
		}
		return nil
	})
	started := inside
	done := make(chan error)
	go func() {
		_, err := train.Run(context.Background(), cfg, train.Options{Dir: dir, Observer: hold})
		done <- err
	}()
	<-started
	_, err := train.Run(context.Background(), cfg, train.Options{Dir: dir})
	assert.ErrorIs(t, err, rundir.ErrInUse)
	assert.ErrorContains(t, err, dir)
	close(release)
	require.NoError(t, <-done)
	ck, err := train.LoadCheckpoint(filepath.Join(dir, train.CheckpointFile))
	require.NoError(t, err)
	assert.Equal(t, 1, ck.State.Epoch)

	gone := filepath.Join(t.TempDir(), "never")
	bad := cfg
	bad.Data, bad.DataDir = "mnist", filepath.Join(gone, "no-such-data")
	_, err = train.Run(context.Background(), bad, train.Options{Dir: gone})
	require.Error(t, err)
	assert.NoDirExists(t, gone, "a refused run leaves no directory")
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

// Checkpoint metadata is validated against the tensors it describes before anything is built
// from it: a forged header with a valid CRC cannot make a loader build a huge graph.
func TestForgedCheckpointMetadata(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig()
	cfg.Epochs = 1
	_, err := train.Run(context.Background(), cfg, train.Options{Dir: dir})
	require.NoError(t, err)
	good, err := checkpoint.Load(filepath.Join(dir, train.CheckpointFile))
	require.NoError(t, err)

	for _, tc := range []struct {
		name  string
		forge func(m map[string]any)
		want  string
	}{
		{"classes 1e9", func(m map[string]any) { m["classes"] = 1e9 }, "1000000000 classes, but fc.weight has shape [10 64]"},
		{"classes of another head", func(m map[string]any) { m["classes"] = 5 }, "5 classes, but fc.weight has shape [10 64]"},
		{"input channels", func(m map[string]any) { m["input"] = []int{3, 28, 28} }, "3 input channels, but conv1.weight has shape [16 1 3 3]"},
		{"a deeper model", func(m map[string]any) { m["model"] = "resnet6000000002" }, "model resnet6000000002, but the checkpoint has no layer3.999999999.conv1.weight"},
		{"an unknown model", func(m map[string]any) { m["model"] = "vgg16" }, `unknown model "vgg16"`},
		{"huge images", func(m map[string]any) { m["input"] = []int{1, 100000, 100000} }, "input 100000×100000: resnet8 takes sides from"},
		{"zero std", func(m map[string]any) { m["std"] = []float64{0} }, "channel 0: mean"},
		{"means for other channels", func(m map[string]any) { m["mean"] = []float64{0, 0, 0} }, "normalisation of 3 means and 1 stds for 1 channels"},
		{"epoch past the run", func(m map[string]any) { m["epoch"] = 99 }, "epoch 99 of a run of 1"},
		{"negative step", func(m map[string]any) { m["step"] = -1 }, "step -1"},
		{"warm-up ended in the future", func(m map[string]any) { m["warmup_end"] = 1e6 }, "warm-up ended after step 1000000 of 8"},
		{"warm-up errors out of range", func(m map[string]any) { m["warmup_errors"] = []float64{0.5, 2} }, "warm-up batch error 2: want 0 to 1"},
		{"too many warm-up errors", func(m map[string]any) { m["warmup_errors"] = make([]float64, 11) }, "11 warm-up batch errors: want at most 10"},
		{"bad settings", func(m map[string]any) { m["config"].(map[string]any)["batch"] = 0 }, "its settings: Config.Batch 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var meta map[string]any
			require.NoError(t, json.Unmarshal(good.Meta, &meta))
			tc.forge(meta)
			forged := *good
			forged.Meta, err = json.Marshal(meta)
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "forged.ckpt")
			require.NoError(t, checkpoint.Save(path, &forged)) // a valid CRC
			_, err := train.LoadCheckpoint(path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "checkpoint "+path+": metadata: ")
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err = train.LoadCheckpoint(filepath.Join(dir, train.CheckpointFile))
	assert.NoError(t, err, "the genuine checkpoint passes")
	_, err = train.LoadCheckpoint(dir)
	assert.NoError(t, err, "a run directory stands for its checkpoint")
}

// The paper's warm-up for ResNet-110: a constant low rate until the training error is below a
// threshold. Where it ends depends on the errors of the latest batches, which a checkpoint keeps,
// so a run stopped during the warm-up and resumed ends it at the same step as an uninterrupted one.
func TestWarmupUntilErrorEndsWhereAnUninterruptedRunDoes(t *testing.T) {
	cfg := smallConfig()
	cfg.Epochs, cfg.Schedule, cfg.Milestones, cfg.Gamma = 4, "step", []float64{0.5}, 0.1
	cfg.WarmupEpochs, cfg.WarmupLR, cfg.WarmupUntilErr = 3, 0.01, 0.8
	whole, err := train.Run(context.Background(), cfg, train.Options{Dir: t.TempDir()})
	require.NoError(t, err)
	const spe = 256 / 32
	end := whole.WarmupEnd
	require.Greater(t, end, spe, "ends after the first epoch, so the resumed run below needs the batches of epoch 1")
	require.Less(t, end, 3*spe, "ends before its limit")
	assert.Equal(t, 0.01, whole.Records[0].LR, "warm-up rate in epoch 1")
	// After the warm-up, the step schedule over the remaining steps: ÷10 at half of them.
	rest := 4*spe - end
	want := func(step int) float64 {
		if step-end >= rest/2 {
			return 0.1 * 0.1
		}
		return 0.1
	}
	assert.InDelta(t, want(4*spe-1), whole.Records[3].LR, 1e-15)

	dir := t.TempDir()
	_, err = train.Run(context.Background(), cfg, train.Options{Dir: dir, StopAfter: 1})
	require.NoError(t, err)
	ck, err := train.LoadCheckpoint(filepath.Join(dir, train.CheckpointFile))
	require.NoError(t, err)
	assert.Equal(t, 1, ck.State.Epoch)
	assert.Zero(t, ck.State.WarmupEnd)
	assert.Len(t, ck.State.WarmupErrs, spe, "the batch errors of epoch 1 are kept")
	resumed, err := train.Run(context.Background(), cfg, train.Options{Dir: dir, Resume: true})
	require.NoError(t, err)
	assert.Equal(t, end, resumed.WarmupEnd)
	require.Len(t, resumed.Records, 4)
	for i, w := range whole.Records {
		r := resumed.Records[i]
		assert.Equal(t, []float64{w.LR, w.TrainLoss, w.TrainErr, w.TestLoss, w.TestErr},
			[]float64{r.LR, r.TrainLoss, r.TrainErr, r.TestLoss, r.TestErr}, "epoch %d", i+1)
	}
}
