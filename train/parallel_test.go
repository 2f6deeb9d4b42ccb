package train_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/dist"
	"github.com/resnet-go/resnet/train/runlog"
)

// group is a dist.Comm whose ranks are goroutines of this process: the distributed path of Run
// without MPI. Its reductions add the ranks' values in rank order, as MPI does for two ranks.
type group struct {
	mu      sync.Mutex
	cond    *sync.Cond
	size    int
	in      []any // this round's slices, by rank
	arrived int
	round   int
}

type member struct {
	g    *group
	rank int
}

func newGroup(size int) []dist.Comm {
	g := &group{size: size, in: make([]any, size)}
	g.cond = sync.NewCond(&g.mu)
	out := make([]dist.Comm, size)
	for r := range out {
		out[r] = member{g, r}
	}
	return out
}

func (m member) Rank() int      { return m.rank }
func (m member) Size() int      { return m.g.size }
func (m member) Abort(code int) { panic("abort") }
func (m member) Close() error   { return nil }

func (m member) AllReduceFloat32(x []float32, op dist.Op) error {
	m.reduce(x, func(in []any) { combine(in, op, float32(m.g.size)) })
	return nil
}

func (m member) AllReduceFloat64(x []float64, op dist.Op) error {
	m.reduce(x, func(in []any) { combine(in, op, float64(m.g.size)) })
	return nil
}

// reduce waits for every rank's x; the last to arrive combines them into every rank's slice.
func (m member) reduce(x any, combine func([]any)) {
	g := m.g
	g.mu.Lock()
	defer g.mu.Unlock()
	round := g.round
	g.in[m.rank] = x
	if g.arrived++; g.arrived == g.size {
		combine(g.in)
		g.arrived, g.round = 0, g.round+1
		g.cond.Broadcast()
		return
	}
	for g.round == round {
		g.cond.Wait()
	}
}

func combine[T float32 | float64](in []any, op dist.Op, size T) {
	first := in[0].([]T)
	out := make([]T, len(first))
	copy(out, first)
	for _, s := range in[1:] {
		for i, v := range s.([]T) {
			if op == dist.Max {
				out[i] = max(out[i], v)
			} else {
				out[i] += v
			}
		}
	}
	if op == dist.Mean {
		for i := range out {
			out[i] /= size
		}
	}
	for _, s := range in {
		copy(s.([]T), out)
	}
}

// runGroup runs cfg on every rank of a goroutine group with options o (Comm set per rank, Out
// on rank 0 only); edit, when not nil, changes a rank's context, settings or options first.
func runGroup(t *testing.T, ranks int, cfg train.Config, o train.Options,
	edit func(rank int, ctx *context.Context, cfg *train.Config, o *train.Options)) ([]*train.Result, []error) {
	t.Helper()
	comms := newGroup(ranks)
	res, errs := make([]*train.Result, ranks), make([]error, ranks)
	var wg sync.WaitGroup
	for r, c := range comms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, rc, ro := context.Background(), cfg, o
			ro.Comm = c
			if r > 0 {
				ro.Out = nil
			}
			if edit != nil {
				edit(r, &ctx, &rc, &ro)
			}
			res[r], errs[r] = train.Run(ctx, rc, ro)
		}()
	}
	wg.Wait()
	return res, errs
}

func parallelConfig() train.Config {
	c := smallConfig()
	c.Epochs, c.TrainLimit, c.Val, c.TestLimit = 2, 128, 32, 64
	c.Batch, c.EvalBatch = 16, 64
	c.Pad, c.Flip = 2, true // the ranks must draw the same augmentation
	return c
}

// sameWeights asserts that two stores hold the same trainable weights, bit for bit.
func sameWeights(t *testing.T, want, got *graph.Params, msg string) {
	t.Helper()
	for _, p := range want.Trainable() {
		q, ok := got.Get(p.Name)
		require.True(t, ok, p.Name)
		assert.Equal(t, p.Value.Data(), q.Value.Data(), "%s: %s", msg, p.Name)
	}
}

// Two ranks reach the weights of one process accumulating two micro-batches, bit for bit: each
// micro-batch's gradient is computed by the same code on the same rows, and the two ranks' sum
// is one float32 addition, as the graph's accumulation is. Both ranks record the same epochs;
// only rank 0 writes the run directory; BN running statistics are each rank's own.
func TestRanksMatchAccumulation(t *testing.T) {
	cfg := parallelConfig()
	acc, err := train.Run(context.Background(), cfg, train.Options{Dir: t.TempDir(), Accumulate: 2})
	require.NoError(t, err)

	dir := t.TempDir()
	res, errs := runGroup(t, 2, cfg, train.Options{Dir: dir}, nil)
	require.NoError(t, errors.Join(errs...))
	sameWeights(t, acc.Params, res[0].Params, "accumulation vs rank 0")
	sameWeights(t, res[0].Params, res[1].Params, "rank 0 vs rank 1")
	bn0, _ := res[0].Params.Get("layer1.0.bn1.running_mean")
	bn1, _ := res[1].Params.Get("layer1.0.bn1.running_mean")
	assert.NotEqual(t, bn0.Value.Data(), bn1.Value.Data(), "per-rank BN statistics")

	require.Len(t, res[1].Records, 2)
	for i, a := range acc.Records {
		r0, r1 := res[0].Records[i], res[1].Records[i]
		assert.Equal(t, a.TrainLoss, r0.TrainLoss, "epoch %d", i+1)
		assert.Equal(t, a.TrainErr, r0.TrainErr, "epoch %d", i+1)
		assert.Equal(t, []float64{r0.TrainLoss, r0.TrainErr, r0.TestLoss, r0.TestErr}, []float64{r1.TrainLoss, r1.TrainErr, r1.TestLoss, r1.TestErr}, "epoch %d", i+1)
	}
	ck, err := train.LoadCheckpoint(dir)
	require.NoError(t, err)
	ev, err := ck.Evaluator(10)
	require.NoError(t, err)
	defer ev.Close()
	for _, e := range res[0].Params.All() { // the checkpoint holds rank 0's tensors, buffers too
		q, ok := ev.Model.Builder.Params().Get(e.Name)
		require.True(t, ok, e.Name)
		assert.Equal(t, e.Value.Data(), q.Value.Data(), "checkpoint: %s", e.Name)
	}
	recs, err := runlog.ReadRecords(filepath.Join(dir, train.MetricsFile))
	require.NoError(t, err)
	assert.Equal(t, res[0].Records, recs)
}

// Accumulate 1 is the ordinary path: the same weights, BN statistics and numbers.
func TestAccumulateOneIsWholeBatches(t *testing.T) {
	cfg := parallelConfig()
	plain, err := train.Run(context.Background(), cfg, train.Options{Dir: t.TempDir()})
	require.NoError(t, err)
	one, err := train.Run(context.Background(), cfg, train.Options{Dir: t.TempDir(), Accumulate: 1})
	require.NoError(t, err)
	for _, p := range plain.Params.All() {
		q, _ := one.Params.Get(p.Name)
		assert.Equal(t, p.Value.Data(), q.Value.Data(), p.Name)
	}
	for i, a := range plain.Records {
		b := one.Records[i]
		assert.Equal(t, []float64{a.TrainLoss, a.TrainErr, a.TestLoss, a.TestErr}, []float64{b.TrainLoss, b.TrainErr, b.TestLoss, b.TestErr})
	}
}

// The checkpoint does not depend on the number of ranks: a run of two ranks stopped after its
// first epoch and resumed by one process accumulating two micro-batches ends with the weights of
// a run that accumulated all along (BN running statistics, which training does not read, differ).
func TestResumeOnAnotherNumberOfRanks(t *testing.T) {
	cfg := parallelConfig()
	acc, err := train.Run(context.Background(), cfg, train.Options{Dir: t.TempDir(), Accumulate: 2})
	require.NoError(t, err)

	dir := t.TempDir()
	_, errs := runGroup(t, 2, cfg, train.Options{Dir: dir, StopAfter: 1}, nil)
	require.NoError(t, errors.Join(errs...))
	res, err := train.Run(context.Background(), cfg, train.Options{Dir: dir, Resume: true, Accumulate: 2})
	require.NoError(t, err)
	sameWeights(t, acc.Params, res.Params, "resumed on one rank")
}

// Settings every rank refuses together, with an error that says why.
func TestShardingErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ranks, acc int
		batch      int
		probe      int
		want       string
	}{
		{"batch not divisible by ranks", 3, 1, 32, 0, "Config.Batch 32 does not split into 3 equal parts (3 ranks × 1 micro-batch): choose a batch divisible by 3"},
		{"batch of a rank not divisible by micro-batches", 2, 3, 34, 0, "Config.Batch 34 does not split into 6 equal parts (2 ranks × 3 micro-batches)"},
		{"batch not divisible by micro-batches", 1, 3, 32, 0, "Config.Batch 32 does not split into 3 equal parts (1 rank × 3 micro-batches)"},
		{"negative accumulation", 1, -1, 32, 0, "Options.Accumulate -1"},
		{"probe of a part", 1, 2, 32, 5, "Options.ProbeEvery and Options.Observer need whole batches"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parallelConfig()
			cfg.Batch = tc.batch
			dir := t.TempDir()
			o := train.Options{Dir: dir, Accumulate: tc.acc, ProbeEvery: tc.probe}
			var errs []error
			if tc.ranks == 1 {
				_, err := train.Prepare(cfg, o)
				errs = []error{err}
			} else {
				_, errs = runGroup(t, tc.ranks, cfg, o, nil)
			}
			for r, err := range errs {
				require.Error(t, err, "rank %d", r)
				assert.Contains(t, err.Error(), tc.want, "rank %d", r)
				assert.Equal(t, tc.ranks > 1, train.Collective(err), "rank %d", r)
			}
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, entries, "a refused run leaves the directory as it was")
		})
	}
}

// A failure on one rank, ranks that would train different nets, or a stop requested on one
// rank end every rank, at the same point, with an error saying why.
func TestGroupFailsTogether(t *testing.T) {
	held := t.TempDir()
	_, err := train.Run(context.Background(), parallelConfig(), train.Options{Dir: held, StopAfter: 1})
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		dir  string
		edit func(rank int, ctx *context.Context, cfg *train.Config, o *train.Options)
		want []string // by rank
	}{
		{"rank 0 cannot own the directory", held, nil,
			[]string{"already holds a run", "rank 1 of 2: another rank failed (its error says why)"}},
		{"another seed on rank 1", "", func(rank int, _ *context.Context, cfg *train.Config, _ *train.Options) {
			cfg.Seed += int64(rank)
		}, []string{"the 2 ranks do not start from the same weights", "the 2 ranks do not start from the same weights"}},
		{"another training set on rank 1", "", func(rank int, _ *context.Context, cfg *train.Config, _ *train.Options) {
			cfg.TrainLimit += 16 * rank
		}, []string{"do not start from the same training set", "do not start from the same training set"}},
		{"rank 1 interrupted", "", func(rank int, ctx *context.Context, _ *train.Config, _ *train.Options) {
			if rank == 1 {
				c, cancel := context.WithCancel(context.Background())
				cancel()
				*ctx = c
			}
		}, []string{"stopped in epoch 1: context canceled", "stopped in epoch 1: context canceled"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir
			if dir == "" {
				dir = t.TempDir()
			}
			_, errs := runGroup(t, 2, parallelConfig(), train.Options{Dir: dir}, tc.edit)
			for r, err := range errs {
				require.Error(t, err, "rank %d", r)
				assert.Contains(t, err.Error(), tc.want[r], "rank %d", r)
				assert.True(t, train.Collective(err), "rank %d: %v", r, err)
			}
			if tc.dir == "" && !strings.Contains(tc.name, "interrupted") {
				assert.NoFileExists(t, filepath.Join(dir, train.ConfigFile), "refused before rank 0 writes")
			}
		})
	}
}
