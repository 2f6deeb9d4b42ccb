package train

// Data-parallel training, as PyTorch's DistributedDataParallel (DDP), and its one-process
// equivalent, gradient accumulation.
//
// Options.Comm groups S processes (ranks) that train one run; Options.Accumulate makes each of
// them take K micro-batches per step. Config.Batch stays the global batch: every rank loads the
// same batch (same seed, shuffling and augmentation) and computes on its own contiguous part of
// it, K micro-batches of Config.Batch/(S·K) examples, micro-batch j of rank r being part r·K+j.
// Each micro-batch is normalised by its own BatchNorm batch statistics, as each GPU's is in DDP.
// The gradients of the parts are summed (the graph adds the micro-batches', one all-reduce the
// ranks') and divided by S·K, so that every rank applies the same mean gradient, weight decay
// and momentum, and the weights stay identical on every rank: S ranks and one process with K = S
// reach the same weights.
//
// BatchNorm running statistics are per rank, as in DDP: each rank's follow its own parts (one
// process accumulating follows all its micro-batches in turn). Rank 0's are the run's: it alone
// evaluates (the other ranks wait), writes the metrics, curves, run.json and checkpoints, and
// owns (locks) the run directory; the others only read it, to resume. The checkpoint does not
// depend on S or K, so a run can be resumed on any number of ranks. The epoch's training loss
// and error, and rank 0's evaluation, are shared, so every rank records the same numbers.
//
// Synchronised BatchNorm (statistics over the global batch) is not offered: it needs an
// all-reduce inside every BatchNorm of the forward and backward passes, that is, inside the
// graph's ops.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/train/data"
	"github.com/resnet-go/resnet/train/dist"
	"github.com/resnet-go/resnet/train/runlog"
)

// Sharding is how a run splits the batch of a step.
type Sharding struct {
	Ranks        int // processes (Options.Comm's size)
	MicroBatches int // per rank (Options.Accumulate)
	MicroBatch   int // examples in each: Config.Batch / (Ranks × MicroBatches)
	// ReduceBytes is what every rank all-reduces per step: the gradients, and the step's loss,
	// errors and stop request (3 float64s); 0 with one rank.
	ReduceBytes int
}

// Parts is the number of micro-batches of a step over all ranks.
func (s Sharding) Parts() int { return s.Ranks * s.MicroBatches }

func (s Sharding) String() string {
	if s.Ranks == 1 {
		return fmt.Sprintf("gradient accumulation over %s of %d", microBatches(s.MicroBatches), s.MicroBatch)
	}
	return fmt.Sprintf("data-parallel over %d ranks, %s of %d each; %d bytes all-reduced per step",
		s.Ranks, microBatches(s.MicroBatches), s.MicroBatch, s.ReduceBytes)
}

func microBatches(k int) string {
	if k == 1 {
		return "1 micro-batch"
	}
	return fmt.Sprintf("%d micro-batches", k)
}

// statsLen is the length of a step's float64 all-reduce: loss, wrong, stop.
const statsLen = 3

// sharding splits batch over ranks and k micro-batches per rank.
func sharding(batch, ranks, k int) (Sharding, error) {
	if k < 0 {
		return Sharding{}, fmt.Errorf("Options.Accumulate %d: want 0 or 1 (whole batches) or more micro-batches", k)
	}
	k = max(k, 1)
	if batch%(ranks*k) != 0 {
		return Sharding{}, fmt.Errorf("Config.Batch %d does not split into %d equal parts (%s × %s): choose a batch divisible by %d",
			batch, ranks*k, plural(ranks, "rank"), microBatches(k), ranks*k)
	}
	return Sharding{Ranks: ranks, MicroBatches: k, MicroBatch: batch / (ranks * k)}, nil
}

// collective marks an error that every rank of a distributed run returns together, from a
// decision they took in a collective (see Collective).
type collective struct{ error }

func (c collective) Unwrap() error { return c.error }

// Collective reports whether err was returned by every rank of a distributed run at the same
// point: the processes can end normally. Any other error of a distributed run was one rank's
// alone, and the others wait for it in their next all-reduce: end them with Comm.Abort.
func Collective(err error) bool {
	var c collective
	return errors.As(err, &c)
}

// together marks err as returned by every rank, in a distributed run.
func (r *run) together(err error) error {
	if err == nil || r.comm.Size() == 1 || Collective(err) {
		return err
	}
	return collective{err}
}

// microBatch returns part i of the batch b cut into parts of m examples: a view of its rows
// (no copy) and their labels.
func microBatch(b *data.Batch, m, i int) (*tensor.Dense, []int) {
	sh := b.X.Shape()
	size := m * sh[1] * sh[2] * sh[3]
	var rows any
	switch d := b.X.Data().(type) {
	case []float32:
		rows = d[i*size : (i+1)*size]
	case []float64:
		rows = d[i*size : (i+1)*size]
	}
	return tensor.New(tensor.WithShape(m, sh[1], sh[2], sh[3]), tensor.WithBacking(rows)), b.Labels[i*m : (i+1)*m]
}

// step runs the forward and backward passes over this rank's part of batch b, its micro-batches
// one after the other, and leaves in the graph the gradient of the mean loss over the whole
// batch. It returns that loss and the number of b's examples misclassified, over every rank.
// In a distributed run it is also where the ranks stop together (ctx cancelled on any of them).
func (r *run) step(ctx context.Context, b *data.Batch) (loss float64, wrong int, err error) {
	sh := r.shard
	if sh.Parts() == 1 {
		if loss, err = r.tr.Compute(b.X, b.Labels); err != nil {
			return 0, 0, err
		}
		return loss, b.N - correct(r.tr.Logits(), b.Labels, b.N), nil
	}
	for j := range sh.MicroBatches {
		x, labels := microBatch(b, sh.MicroBatch, r.comm.Rank()*sh.MicroBatches+j)
		l, err := r.tr.Compute(x, labels)
		if err != nil {
			return 0, 0, err
		}
		loss += l
		wrong += len(labels) - correct(r.tr.Logits(), labels, len(labels))
	}
	if r.comm.Size() > 1 {
		stop := 0.0
		if ctx.Err() != nil {
			stop = 1
		}
		s := []float64{loss, float64(wrong), stop}
		if err := r.comm.AllReduceFloat64(s, dist.Sum); err != nil {
			return 0, 0, err
		}
		if s[2] > 0 {
			return 0, 0, collective{context.Canceled}
		}
		loss, wrong = s[0], int(s[1])
	}
	return loss / float64(sh.Parts()), wrong, r.averageGradients()
}

// averageGradients turns the gradients the graph summed over this rank's micro-batches into
// their mean over every part of the step: summed over the ranks in one all-reduce, divided by
// the number of parts. One division by S·K (rather than MPI's mean and then a mean over the
// micro-batches) is what makes S ranks and one process of K = S micro-batches agree bit for bit.
func (r *run) averageGradients() error {
	parts := r.shard.Parts()
	switch r.params.Dtype() {
	case tensor.Float32:
		grads, err := gradients[float32](r.tr)
		if err != nil {
			return err
		}
		return average(grads, r.flat32, float32(parts), r.comm.AllReduceFloat32)
	default:
		grads, err := gradients[float64](r.tr)
		if err != nil {
			return err
		}
		return average(grads, r.flat64, float64(parts), r.comm.AllReduceFloat64)
	}
}

// gradients returns the gradient buffers of t's trainable parameters, in model order.
func gradients[T float32 | float64](t *Trainer) ([][]T, error) {
	out := make([][]T, len(t.params))
	for i, bd := range t.params {
		g, err := t.Gradient(bd)
		if err != nil {
			return nil, err
		}
		out[i] = g.Data().([]T)
	}
	return out, nil
}

// average replaces every gradient g by (Σ over ranks of g) / parts; flat, as long as all the
// gradients together, carries them in one all-reduce (nil with one rank).
func average[T float32 | float64](grads [][]T, flat []T, parts T, allReduce func([]T, dist.Op) error) error {
	if flat != nil {
		off := 0
		for _, g := range grads {
			off += copy(flat[off:], g)
		}
		if err := allReduce(flat, dist.Sum); err != nil {
			return err
		}
		off = 0
		for _, g := range grads {
			off += copy(g, flat[off:])
		}
	}
	for _, g := range grads {
		for i := range g {
			g[i] /= parts
		}
	}
	return nil
}

// agreeStart is the first collective of a distributed run, at the end of Prepare (err is this
// rank's failure to prepare, r nil then). Every rank learns whether all of them are ready — a
// rank that failed alone would leave the others waiting in their first all-reduce — and that
// they start from the same epoch, step, training set and weights: ranks that read different
// files would otherwise train different nets, averaging their gradients.
func agreeStart(c dist.Comm, r *run, err error) error {
	var fp []float64
	if err == nil {
		st := r.state
		fp = []float64{float64(st.Epoch), float64(st.Step), float64(r.trainN), fingerprint(r.params.All(), r.opt)}
	}
	names := []string{"epoch", "step", "training set", "weights"}
	v, err := agree(c, err, fp, len(names))
	if err != nil {
		return err
	}
	for i, name := range names {
		if v[1+2*i] != -v[2+2*i] {
			return collective{fmt.Errorf("train: the %d ranks do not start from the same %s: do they all read the same data, weights and checkpoint?", c.Size(), name)}
		}
	}
	return nil
}

// agree all-reduces, with Max, whether any rank failed (err) and the maximum and minimum of each
// of the n values of fp (nil when err is set): the ranks agree on fp when max = min. It returns
// [failed, max₀, −min₀, max₁, −min₁, …], or, when a rank failed, err (or a note that another
// rank failed), marked as returned by every rank.
func agree(c dist.Comm, err error, fp []float64, n int) ([]float64, error) {
	v := make([]float64, 1+2*n)
	if err != nil {
		v[0] = 1
	} else {
		for i, x := range fp {
			v[1+2*i], v[2+2*i] = x, -x
		}
	}
	if rerr := c.AllReduceFloat64(v, dist.Max); rerr != nil {
		return nil, rerr
	}
	switch {
	case err != nil:
		return nil, collective{err}
	case v[0] > 0:
		return nil, collective{fmt.Errorf("train: rank %d of %d: another rank failed (its error says why)", c.Rank(), c.Size())}
	}
	return v, nil
}

// agreeEpoch ends an epoch of a distributed run on every rank together. Rank 0, which evaluated
// the epoch and wrote it (err: its failure), sends the evaluation numbers of rec to the others,
// and every rank checks that all hold the same weights and momentum.
func (r *run) agreeEpoch(epoch int, rec *runlog.Record, err error) error {
	eval := []float64{0, 0, 0, 0}
	if r.lead {
		eval = []float64{rec.ValLoss, rec.ValErr, rec.TestLoss, rec.TestErr}
	}
	// A sum with zeros from the other ranks is a broadcast from rank 0 that keeps NaN (no
	// validation set) as it is.
	if rerr := r.comm.AllReduceFloat64(eval, dist.Sum); rerr != nil {
		return rerr
	}
	rec.ValLoss, rec.ValErr, rec.TestLoss, rec.TestErr = eval[0], eval[1], eval[2], eval[3]
	var fp []float64
	if err == nil {
		fp = []float64{fingerprint(r.params.Trainable(), r.opt)}
	}
	v, err := agree(r.comm, err, fp, 1)
	if err != nil {
		return err
	}
	if v[1] != -v[2] {
		return collective{fmt.Errorf("train: after epoch %d the %d ranks hold different weights", epoch, r.comm.Size())}
	}
	return nil
}

// fingerprint is a CRC-32 of the values of ps and of their momentum buffers in opt, as a
// float64 (exact: ranks compare it with Max).
func fingerprint(ps []*graph.Param, opt *SGD) float64 {
	h := crc32.NewIEEE()
	buf := make([]byte, 0, 1<<13)
	add := func(d any) {
		switch d := d.(type) {
		case []float32:
			for _, x := range d {
				if len(buf) > cap(buf)-8 {
					h.Write(buf)
					buf = buf[:0]
				}
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
			}
		case []float64:
			for _, x := range d {
				if len(buf) > cap(buf)-8 {
					h.Write(buf)
					buf = buf[:0]
				}
				buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(x))
			}
		}
	}
	for _, p := range ps {
		add(p.Value.Data())
		if v, ok := opt.Velocity(p.Name); ok {
			add(v.Data())
		}
	}
	h.Write(buf)
	return float64(h.Sum32())
}
