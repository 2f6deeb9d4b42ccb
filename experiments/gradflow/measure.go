package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"time"

	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/graph/ops"
	"github.com/resnet-go/resnet/resnet"
	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/data"
)

// row is one measurement of a net: train.ProbeRow plus the moment it was taken (Depth is the
// layer's position in the net).
type row struct {
	Phase string // "init" or "trained"
	Mode  string // BatchNorm mode of the pass: "train" (batch statistics) or "eval" (running)
	train.ProbeRow
}

// netResult is everything measured on one net.
type netResult struct {
	Model   string
	Depth   int
	Plain   bool
	Params  int
	Rows    []row
	Losses  []float64 // training loss of each step
	Seconds float64
	// Diverged is the step whose loss was not finite (training stopped there), or 0.
	Diverged int
}

// bench is what every net is measured with: the training set, its channel statistics and the
// fixed batch. It is the same in every process for the same settings, so a net measured alone
// (-task) gives the numbers it gives among the others.
type bench struct {
	trainSet  *data.Images
	mean, std []float64
	fixed     *data.Batch
}

// newBench opens the training set and draws the fixed batch.
func newBench(s settings, stdout io.Writer) (*bench, error) {
	if s.Workers > 0 {
		ops.SetWorkers(s.Workers)
	}
	trainSet, err := data.Open(s.Data, s.DataDir, "train")
	if err != nil {
		return nil, err
	}
	if trainSet.Len() < 2*s.Batch {
		return nil, fmt.Errorf("%s has %d training images; -batch %d needs at least twice that", s.Data, trainSet.Len(), s.Batch)
	}
	mean, std := data.ChannelStats(trainSet)
	fixed, err := fixedBatch(trainSet, s, mean, std)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "gradflow on %s: depths %v, %d steps of batch %d, lr %g, blas %s, workers %d\n",
		s.Data, s.Depths, s.Steps, s.Batch, s.LR, ops.BLAS(), ops.Workers())
	return &bench{trainSet: trainSet, mean: mean, std: std, fixed: fixed}, nil
}

// measure measures the net of task t.
func (b *bench) measure(s settings, t task, stdout io.Writer) (netResult, error) {
	start := time.Now()
	res, err := measureNet(t.Model, b.trainSet, b.fixed, b.mean, b.std, s)
	if err != nil {
		return res, fmt.Errorf("%s: %w", t.Model, err)
	}
	res.Depth, res.Plain, res.Seconds = t.Depth, t.Plain, time.Since(start).Seconds()
	fmt.Fprintf(stdout, "%-10s ‖∂L/∂x‖ first/last block: %10.3g at init, %10.3g after %d steps (loss %.3f → %.3f)  %.0f s\n",
		t.Model, ratio(res, "init"), ratio(res, "trained"), s.Steps, res.Losses[0], res.Losses[len(res.Losses)-1], res.Seconds)
	return res, nil
}

// machine describes where a net was measured, for summary.md and settings.json.
func machine() string {
	return fmt.Sprintf("%d CPUs, %s/%s, blas %s, %d workers", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, ops.BLAS(), ops.Workers())
}

// fixedBatch is the first batch of a seeded shuffle of the training set, normalised and without
// augmentation: the same images for every net and both measurements.
func fixedBatch(ds *data.Images, s settings, mean, std []float64) (*data.Batch, error) {
	l, err := data.NewLoader(ds, data.LoaderConfig{Batch: s.Batch, Shuffle: true, DropLast: true, Seed: s.Seed + 1000, Mean: mean, Std: std})
	if err != nil {
		return nil, err
	}
	it := l.Epoch(0)
	defer it.Close()
	b, ok := it.Next()
	if !ok {
		return nil, fmt.Errorf("no batch")
	}
	// The loader reuses its buffers: keep copies.
	return &data.Batch{X: b.X.Clone().(*tensor.Dense), Labels: append([]int(nil), b.Labels...), N: b.N}, nil
}

func measureNet(model string, ds *data.Images, fixed *data.Batch, mean, std []float64, s settings) (netResult, error) {
	res := netResult{Model: model}
	c, h, w := ds.Shape()
	spec, err := resnet.ByName(model, ds.Classes(), c)
	if err != nil {
		return res, err
	}
	p, err := graph.NewParams(tensor.Float32, s.Seed)
	if err != nil {
		return res, err
	}
	opt, err := train.NewSGD(train.SGDConfig{LR: s.LR, Momentum: 0.9, WeightDecay: s.WD})
	if err != nil {
		return res, err
	}
	tr, err := train.NewTrainer(spec, p, graph.Config{Probe: true}, s.Batch, h, w, opt)
	if err != nil {
		return res, err
	}
	defer tr.Close()
	ev, err := train.NewEvaluatorConfig(spec, p, graph.Config{Probe: true}, s.Batch, h, w)
	if err != nil {
		return res, err
	}
	defer ev.Close()
	res.Params = p.Count()

	measure := func(phase string, step int) error {
		rows, err := probeFixed(tr, p, fixed, step)
		if err != nil {
			return err
		}
		for _, r := range rows {
			res.Rows = append(res.Rows, row{Phase: phase, Mode: "train", ProbeRow: r})
		}
		// Eval mode: BatchNorm with the running statistics, as a trained net is used.
		if _, err := ev.Logits(fixed.X); err != nil {
			return err
		}
		for _, r := range train.ResponseRows(ev.Responses(), 0, step) {
			res.Rows = append(res.Rows, row{Phase: phase, Mode: "eval", ProbeRow: r})
		}
		return nil
	}
	if err := measure("init", 0); err != nil {
		return res, err
	}

	l, err := data.NewLoader(ds, data.LoaderConfig{Batch: s.Batch, Shuffle: true, DropLast: true, Seed: s.Seed,
		Augment: data.Augment{Pad: 4, Flip: true}, Mean: mean, Std: std})
	if err != nil {
		return res, err
	}
	sched := train.Schedule{Kind: "constant", Base: s.LR, Warmup: s.Warmup, Total: s.Steps + 1}
	for epoch, step := 0, 0; step < s.Steps && res.Diverged == 0; epoch++ {
		it := l.Epoch(epoch)
		for b, ok := it.Next(); ok && step < s.Steps; b, ok = it.Next() {
			opt.SetLR(sched.At(step))
			loss, err := tr.Compute(b.X, b.Labels)
			if err != nil {
				it.Close()
				return res, err
			}
			step++
			res.Losses = append(res.Losses, loss)
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				// Reported as such; the weights stay those before the bad step.
				res.Diverged = step
				if err := tr.ClearGradients(); err != nil {
					return res, err
				}
				break
			}
			if err := tr.Apply(); err != nil {
				return res, err
			}
		}
		it.Close()
	}
	return res, measure("trained", len(res.Losses))
}

// probeFixed runs the forward and backward passes on the fixed batch and reads the probe, leaving
// the model as it was: the gradients are dropped and the running statistics, which a training-mode
// pass updates, are restored.
func probeFixed(tr *train.Trainer, p *graph.Params, fixed *data.Batch, step int) ([]train.ProbeRow, error) {
	saved := map[string]*tensor.Dense{}
	for _, b := range p.Buffers() {
		saved[b.Name] = b.Value.Clone().(*tensor.Dense)
	}
	if _, err := tr.Compute(fixed.X, fixed.Labels); err != nil {
		return nil, err
	}
	rows, err := train.Measure(tr, 0, step)
	if err != nil {
		return nil, err
	}
	if err := tr.ClearGradients(); err != nil {
		return nil, err
	}
	for _, b := range p.Buffers() {
		copy(b.Value.Data().([]float32), saved[b.Name].Data().([]float32))
	}
	return rows, nil
}

// ratio is ‖∂L/∂x‖ at the first block over that at the last block, in a phase.
func ratio(r netResult, phase string) float64 {
	first, last := ends(r, phase)
	return first / last
}
