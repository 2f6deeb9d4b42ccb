package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/resnet"
	"github.com/resnet-go/resnet/train/data"
	"github.com/resnet-go/resnet/train/dist"
	"github.com/resnet-go/resnet/train/rundir"
	"github.com/resnet-go/resnet/train/runlog"
)

// Files of a run directory.
const (
	CheckpointFile = "checkpoint.ckpt" // the state after the last completed epoch
	BestFile       = "best.ckpt"       // with a validation set: the epoch of lowest validation error
	ConfigFile     = "run.json"        // the run's Config
	CurvesFile     = "curves.png"      // loss and error against epoch
	MetricsFile    = "metrics.jsonl"   // one runlog.Record per epoch (also metrics.csv)
)

// Options are the settings of a run that do not change its numbers.
type Options struct {
	Dir    string    // run directory: run.json, metrics.jsonl/.csv, curves.png, checkpoint.ckpt
	Resume bool      // continue the run in Dir from its checkpoint
	Out    io.Writer // one line per epoch (nil: none)
	Status io.Writer // progress within an epoch (nil: none); a bar when it is a terminal
	// Observer, when set, sees every step between its backward pass and its update; the
	// gradient probe is one.
	Observer Observer
	// ProbeEvery > 0 records the gradient probe (per-layer gradient norms and response statistics,
	// see GradientProbe) at the first step and every ProbeEvery steps, into probe.csv.
	ProbeEvery int
	// StopAfter > 0 ends this call after that epoch of the run, checkpointed as usual, so that
	// Resume continues it: the first epochs of a longer schedule, or a long run in parts.
	StopAfter int
	// Comm, with more than one rank, makes this process one of a group that trains the run
	// together, data-parallel (see parallel.go): rank 0 alone writes Dir, the others only read
	// it. Every rank calls Run (or Prepare and Train) with the same Config, Dir and Accumulate.
	// nil: this process alone.
	Comm dist.Comm
	// Accumulate > 1 splits each rank's part of every batch into that many micro-batches, each
	// with its own BatchNorm batch statistics, and averages their gradients before one SGD step:
	// one process computing what Accumulate ranks would. 0 or 1: whole parts.
	Accumulate int
}

// Observer watches a run from inside the training loop.
type Observer interface {
	// Observe is called after the forward and backward passes of each step (gradients present,
	// weights not yet updated), with the epoch, the 1-based step number and the batch.
	Observe(t *Trainer, epoch, step int, b *data.Batch) error
}

// Result is what a run measured.
type Result struct {
	Records []runlog.Record // one per epoch, resumed epochs included
	Spec    resnet.Spec
	Params  *graph.Params
	Probe   []ProbeRow // with Options.ProbeEvery
	// WarmupEnd is the step after which a warm-up with Config.WarmupUntilErr ended (0: it has
	// not, or the run has none).
	WarmupEnd int
}

// Final returns the record of the last epoch, and false when the run has none.
func (r *Result) Final() (runlog.Record, bool) {
	if r == nil || len(r.Records) == 0 {
		return runlog.Record{}, false
	}
	return r.Records[len(r.Records)-1], true
}

// ErrDiverged is returned (wrapped) when a training loss becomes NaN, infinite or larger than
// MaxLoss, or an evaluation loss becomes NaN or infinite. The run stops before the update, or
// before saving the epoch, so the last checkpoint is the last good state.
var ErrDiverged = errors.New("loss diverged")

// MaxLoss bounds a sane training loss. Cross-entropy starts at ln(classes) (2.3 for 10 classes,
// 6.9 for 1000) and a diverging net passes any bound within a few steps; a finite loss of 1e24
// only postpones the NaN, so the run stops as for a NaN, before the update. Evaluation losses
// are not bounded: right after a fast change of the weights the running statistics lag and a
// healthy net can show a test loss of 10⁸ in evaluation mode for an epoch.
const MaxLoss = 1e6

// diverged reports a loss that stops a run: not finite, or (with bound > 0) above bound.
func diverged(loss, bound float64) bool {
	return math.IsNaN(loss) || math.IsInf(loss, 0) || (bound > 0 && loss > bound)
}

// Run trains cfg.Model on cfg.Data, evaluating on the validation and test sets after every epoch
// and writing the metrics, the curves and a checkpoint to o.Dir after each. It stops early, with
// the last checkpoint intact, when ctx is cancelled or the loss stops being finite.
func Run(ctx context.Context, cfg Config, o Options) (*Result, error) {
	s, err := Prepare(cfg, o)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Train(ctx)
}

// Session is a prepared run: data loaded, graphs built, checkpoint restored when resuming.
type Session struct {
	r *run
}

// Prepare does all of a run's checks and set-up, so that bad settings, missing data or an
// incompatible checkpoint are reported before any training starts.
//
// In a distributed run every rank returns the same verdict: an error on one fails them all, and
// rank 0 writes nothing into the run directory unless every rank is ready.
func Prepare(cfg Config, o Options) (*Session, error) {
	var r *run
	err := cfg.Validate()
	if err == nil {
		r, err = newRun(cfg, o)
	}
	group := o.Comm != nil && o.Comm.Size() > 1
	if group {
		err = agreeStart(o.Comm, r, err)
	}
	if err == nil {
		err = r.openDir()
		if group { // rank 0's writes
			_, err = agree(o.Comm, err, nil, 0)
		}
	}
	if err != nil {
		if r != nil {
			r.lock.Abandon() // before close releases it
			r.close()
		}
		return nil, err
	}
	return &Session{r: r}, nil
}

// Sharding says how the session splits each batch over ranks and micro-batches.
func (s *Session) Sharding() Sharding { return s.r.shard }

// Describe says what the session will train on, in one line.
func (s *Session) Describe() string {
	r := s.r
	val := ""
	if r.valL != nil {
		val = fmt.Sprintf(", %d validation", r.valN)
	}
	c := r.state.Input
	from := ""
	if r.state.Epoch > 0 {
		from = fmt.Sprintf(", continuing after epoch %d", r.state.Epoch)
	}
	init := ""
	if r.initNote != "" {
		init = "; " + r.initNote
	}
	if frozen, _ := r.cfg.FrozenPrefixes(); len(frozen) > 0 {
		init += "; frozen: " + strings.Join(frozen, ", ")
	}
	return fmt.Sprintf("%s (%d parameters) on %s: %d training%s and %d test images of %d×%d×%d; %s of %s%s%s",
		r.spec.Name, r.params.Count(), r.cfg.Data, r.trainN, val, r.testN, c[0], c[1], c[2],
		plural(r.cfg.Epochs, "epoch"), plural(r.trainL.Batches(), "step"), from, init)
}

// Train runs the remaining epochs.
func (s *Session) Train(ctx context.Context) (*Result, error) { return s.r.run(ctx) }

// Close releases the graphs and the metric files.
func (s *Session) Close() { s.r.close() }

type run struct {
	cfg                 Config
	o                   Options
	spec                resnet.Spec
	params              *graph.Params
	opt                 *SGD
	tr                  *Trainer
	ev                  *Evaluator
	trainL, valL, testL *data.Loader
	sched               Schedule
	log                 *runlog.Log
	state               RunState
	trainN, valN, testN int
	probe               *GradientProbe
	observers           []Observer   // the probe and Options.Observer, when set
	lock                *rundir.Lock // the run directory is this process's while r lives
	initNote            string       // what Config.Init loaded, for Describe
	bestVal             float64      // the lowest validation error so far (BestFile holds it)
	epochSecs           []float64    // wall time of the epochs run by this process, for the run's ETA

	comm    dist.Comm // dist.Single when Options.Comm is nil
	lead    bool      // rank 0: evaluates, and owns and writes the run directory
	shard   Sharding
	flat32  []float32       // the gradients of a step, in one all-reduce (with several ranks,
	flat64  []float64       // one of the two, by dtype)
	records []runlog.Record // on the ranks other than 0, which have no log: this call's epochs
}

func newRun(cfg Config, o Options) (_ *run, err error) {
	if o.Dir == "" {
		return nil, fmt.Errorf("train: no run directory (Options.Dir)")
	}
	r := &run{cfg: cfg, o: o, comm: o.Comm}
	if r.comm == nil {
		r.comm = dist.Single{}
	}
	r.lead = r.comm.Rank() == 0
	if r.shard, err = sharding(cfg.Batch, r.comm.Size(), o.Accumulate); err != nil {
		return nil, err
	}
	if r.shard.Parts() > 1 && (o.ProbeEvery > 0 || o.Observer != nil) {
		// They read a whole batch's block-input gradients and responses out of one graph.
		return nil, fmt.Errorf("train: Options.ProbeEvery and Options.Observer need whole batches: %s", r.shard)
	}
	// Rank 0 owns the directory before reading or writing anything in it: a second process gets
	// an error instead of mixing its files with this run's. The other ranks of a group only
	// read it (to resume), after rank 0 locked it.
	if r.lead {
		if r.lock, err = rundir.Acquire(o.Dir); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err != nil {
			r.lock.Abandon() // before close releases it
			r.close()
		}
	}()
	ckptPath := filepath.Join(o.Dir, CheckpointFile)
	var ck *Checkpoint
	if o.Resume {
		if ck, err = LoadCheckpoint(ckptPath); err != nil {
			return nil, fmt.Errorf("resuming: %w", err)
		}
		if !reflect.DeepEqual(ck.State.Config, cfg) {
			return nil, fmt.Errorf("resuming %s: the run's configuration differs from the checkpoint's (%s)", o.Dir, DiffConfig(ck.State.Config, cfg))
		}
	} else if _, statErr := os.Stat(ckptPath); statErr == nil && r.lead {
		return nil, fmt.Errorf("%s already holds a run (%s): continue it with -resume or choose another -out", o.Dir, ckptPath)
	}

	if cfg.Init != "" && ck == nil {
		// The run records the digest of the weights it starts from; a repeated run (-config
		// run.json) checks that the file is still the same.
		digest, err := fileSHA256(cfg.Init)
		if err != nil {
			return nil, err
		}
		if cfg.InitSHA256 != "" && cfg.InitSHA256 != digest {
			return nil, fmt.Errorf("Config.Init %s has SHA-256 %s, the run's settings record %s: another file", cfg.Init, digest, cfg.InitSHA256)
		}
		cfg.InitSHA256 = digest
		r.cfg = cfg
	}
	trainSet, val, test, err := loadData(cfg)
	if err != nil {
		return nil, err
	}
	r.trainN, r.testN = trainSet.Len(), test.Len()
	if val != nil {
		r.valN = val.Len()
	}
	c, h, w := trainSet.Shape()
	if cfg.Pad > h || cfg.Pad > w {
		return nil, fmt.Errorf("Config.Pad %d: wider than the %d×%d images", cfg.Pad, h, w)
	}
	if r.spec, err = resnet.ByName(cfg.Model, trainSet.Classes(), c); err != nil {
		return nil, err
	}
	st := RunState{Config: cfg, Model: r.spec.Name, Classes: trainSet.Classes(), Input: [3]int{c, h, w}}
	if cfg.Normalize {
		st.Mean, st.Std = data.ChannelStats(trainSet)
	}
	dt := st.Dtype()
	if r.params, err = graph.NewParams(dt, cfg.Seed); err != nil {
		return nil, err
	}
	frozen, err := cfg.FrozenPrefixes()
	if err != nil {
		return nil, err
	}
	if r.opt, err = NewSGD(SGDConfig{LR: cfg.LR, Momentum: cfg.Momentum, WeightDecay: cfg.WeightDecay,
		Nesterov: cfg.Nesterov, NoDecay1D: cfg.NoDecay1D, Frozen: frozen}); err != nil {
		return nil, err
	}
	if tc, th, tw := test.Shape(); tc != c || th != h || tw != w || test.Classes() != trainSet.Classes() {
		return nil, fmt.Errorf("%s: the test images are %d×%d×%d of %d classes, the training images %d×%d×%d of %d",
			cfg.Data, tc, th, tw, test.Classes(), c, h, w, trainSet.Classes())
	}
	if r.tr, err = NewTrainer(r.spec, r.params, graph.Config{ZeroInitResidual: cfg.ZeroInitResidual, Probe: o.ProbeEvery > 0}, r.shard.MicroBatch, h, w, r.opt); err != nil {
		return nil, err
	}
	if r.comm.Size() > 1 {
		n := r.params.Count()
		if dt == tensor.Float32 {
			r.flat32 = make([]float32, n)
		} else {
			r.flat64 = make([]float64, n)
		}
		r.shard.ReduceBytes = n*int(dt.Size()) + statsLen*8
	}
	if ck != nil {
		if err := ck.Restore(r.params, r.opt); err != nil {
			return nil, err
		}
		st.Epoch, st.Step, st.WallSec = ck.State.Epoch, ck.State.Step, ck.State.WallSec
		st.WarmupEnd, st.WarmupErrs = ck.State.WarmupEnd, ck.State.WarmupErrs
	} else if cfg.Init != "" {
		if r.initNote, err = initFrom(cfg.Init, r.params); err != nil {
			return nil, err
		}
	}
	r.state = st

	r.trainL, err = data.NewLoader(trainSet, data.LoaderConfig{Batch: cfg.Batch, Shuffle: true, DropLast: true, Seed: cfg.Seed,
		Augment: data.Augment{Pad: cfg.Pad, Flip: cfg.Flip}, Mean: st.Mean, Std: st.Std, Dtype: dt})
	if err != nil {
		return nil, fmt.Errorf("training set: %w", err)
	}
	evalBatch := min(cfg.EvalBatch, test.Len())
	if val != nil {
		evalBatch = min(evalBatch, val.Len())
	}
	if r.lead {
		if r.ev, err = NewEvaluator(r.spec, r.params, evalBatch, h, w); err != nil {
			return nil, err
		}
	}
	evalCfg := data.LoaderConfig{Batch: evalBatch, Mean: st.Mean, Std: st.Std, Dtype: dt}
	if r.testL, err = data.NewLoader(test, evalCfg); err != nil {
		return nil, fmt.Errorf("test set: %w", err)
	}
	if val != nil {
		if r.valL, err = data.NewLoader(val, evalCfg); err != nil {
			return nil, fmt.Errorf("validation set: %w", err)
		}
	}
	spe := r.trainL.Batches()
	r.sched = Schedule{Kind: cfg.Schedule, Base: cfg.LR, Milestones: cfg.Milestones, Gamma: cfg.Gamma,
		Warmup: int(math.Round(cfg.WarmupEpochs * float64(spe))), WarmupLR: cfg.WarmupLR, Total: cfg.Epochs * spe}
	if err := r.sched.Validate(); err != nil {
		return nil, err
	}
	if r.state.WarmupEnd > 0 {
		r.sched = r.sched.EndWarmup(r.state.WarmupEnd)
	}
	if o.ProbeEvery > 0 {
		r.probe = &GradientProbe{Every: o.ProbeEvery}
		if ck != nil {
			rows, err := ReadProbeCSV(filepath.Join(o.Dir, ProbeFile))
			if err != nil && !os.IsNotExist(err) {
				return nil, err
			}
			for _, row := range rows {
				if row.Step < st.Step { // measured before the checkpoint
					r.probe.Rows = append(r.probe.Rows, row)
				}
			}
		}
		r.observers = append(r.observers, r.probe)
	}
	if o.Observer != nil {
		r.observers = append(r.observers, o.Observer)
	}
	return r, nil
}

// openDir writes the settings of a new run and opens the metrics log, on rank 0; newRun only
// reads, so that a group can refuse a run before rank 0 writes anything.
func (r *run) openDir() (err error) {
	r.bestVal = math.Inf(1)
	if !r.lead {
		return nil
	}
	if !r.o.Resume {
		if err := writeConfig(filepath.Join(r.o.Dir, ConfigFile), r.cfg); err != nil {
			return err
		}
	}
	if r.log, err = runlog.Open(r.o.Dir, r.state.Epoch); err != nil {
		return err
	}
	if err := checkRecords(r.log.Records(), r.state.Epoch); err != nil {
		return fmt.Errorf("resuming %s: %w", r.o.Dir, err)
	}
	for _, rec := range r.log.Records() {
		if rec.ValErr < r.bestVal {
			r.bestVal = rec.ValErr
		}
	}
	return nil
}

// loadData opens the training and test sets and holds out the validation set.
func loadData(cfg Config) (trainSet, val, test *data.Images, err error) {
	if trainSet, err = data.Open(cfg.Data, cfg.DataDir, "train"); err != nil {
		return nil, nil, nil, err
	}
	if test, err = data.Open(cfg.Data, cfg.DataDir, "test"); err != nil {
		return nil, nil, nil, err
	}
	trainSet, test = first(trainSet, cfg.TrainLimit), first(test, cfg.TestLimit)
	if cfg.Val > 0 {
		if trainSet, val, err = data.Split(trainSet, cfg.Val, cfg.Seed); err != nil {
			return nil, nil, nil, fmt.Errorf("Config.Val %d: %w", cfg.Val, err)
		}
	}
	if trainSet.Len() < cfg.Batch {
		return nil, nil, nil, fmt.Errorf("Config.Batch %d is larger than the %d training examples", cfg.Batch, trainSet.Len())
	}
	return trainSet, val, test, nil
}

// first returns the first n examples of s (all of them when n is 0 or too large).
func first(s *data.Images, n int) *data.Images {
	if n <= 0 || n >= s.Len() {
		return s
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return s.Subset(idx)
}

func (r *run) run(ctx context.Context) (*Result, error) {
	cfg, st := r.cfg, &r.state
	ckptPath := filepath.Join(r.o.Dir, CheckpointFile)
	segmentStart, wallBefore := time.Now(), st.WallSec
	last := cfg.Epochs
	if r.o.StopAfter > 0 {
		last = min(last, r.o.StopAfter)
	}
	for epoch := st.Epoch + 1; epoch <= last; epoch++ {
		epochStart := time.Now()
		rec := runlog.NewRecord(epoch, 0)
		loss, errRate, n, err := r.trainEpoch(ctx, epoch)
		if err != nil {
			if st.Epoch > 0 {
				return nil, fmt.Errorf("%w (the checkpoint of epoch %d is intact: %s)", err, st.Epoch, ckptPath)
			}
			return nil, err
		}
		trainSec := time.Since(epochStart).Seconds()
		rec.TrainLoss, rec.TrainErr, rec.ImgPerSec = loss, errRate, float64(n)/trainSec
		rec.Step, rec.LR = st.Step, r.sched.At(st.Step-1)
		if r.lead {
			err = r.finishEpoch(&rec, epochStart, segmentStart, wallBefore)
		}
		if r.comm.Size() > 1 {
			err = r.agreeEpoch(epoch, &rec, err)
		}
		if err != nil {
			return nil, err
		}
		if !r.lead {
			rec.EpochSec = time.Since(epochStart).Seconds()
			rec.WallSec = wallBefore + time.Since(segmentStart).Seconds()
			st.Epoch, st.WallSec = epoch, rec.WallSec
			r.records = append(r.records, rec)
		}
		r.epochSecs = append(r.epochSecs, rec.EpochSec)
		r.printEpoch(rec)
	}
	res := &Result{Records: r.records, Spec: r.spec, Params: r.params, WarmupEnd: st.WarmupEnd}
	if r.log != nil {
		res.Records = r.log.Records()
	}
	if r.probe != nil {
		res.Probe = r.probe.Rows
	}
	return res, nil
}

// finishEpoch evaluates the epoch of rec on the validation and test sets and, unless the
// evaluation diverged, writes its record, probe rows, checkpoints and curves.
func (r *run) finishEpoch(rec *runlog.Record, epochStart, segmentStart time.Time, wallBefore float64) error {
	cfg, st := r.cfg, &r.state
	epoch := rec.Epoch
	ckptPath := filepath.Join(r.o.Dir, CheckpointFile)
	if r.valL != nil {
		m, err := r.evaluate(r.valL, fmt.Sprintf("epoch %d/%d validation", epoch, cfg.Epochs))
		if err != nil {
			return fmt.Errorf("validation: %w", err)
		}
		rec.ValLoss, rec.ValErr = m.Loss, m.Err
	}
	m, err := r.evaluate(r.testL, fmt.Sprintf("epoch %d/%d test", epoch, cfg.Epochs))
	if err != nil {
		return fmt.Errorf("test: %w", err)
	}
	rec.TestLoss, rec.TestErr = m.Loss, m.Err
	// Weights that give NaN in evaluation are not a state to resume from: neither the record
	// nor the checkpoint of this epoch is written.
	for _, l := range []struct {
		set  string
		loss float64
	}{{"validation", rec.ValLoss}, {"test", rec.TestLoss}} {
		if l.set == "validation" && r.valL == nil {
			continue
		}
		if diverged(l.loss, 0) {
			err := fmt.Errorf("epoch %d (lr %g): %w: %s loss %g", epoch, rec.LR, ErrDiverged, l.set, l.loss)
			if st.Epoch > 0 {
				return fmt.Errorf("%w (the checkpoint of epoch %d is kept: %s)", err, st.Epoch, ckptPath)
			}
			return err
		}
	}
	rec.EpochSec = time.Since(epochStart).Seconds()
	rec.WallSec = wallBefore + time.Since(segmentStart).Seconds()

	st.Epoch, st.WallSec = epoch, rec.WallSec
	if err := r.log.Write(*rec); err != nil {
		return err
	}
	if r.probe != nil {
		if err := WriteProbeCSV(filepath.Join(r.o.Dir, ProbeFile), r.probe.Rows); err != nil {
			return err
		}
	}
	// The best epoch is saved before the last: a crash between the two repeats this epoch on
	// resume, which recomputes the same weights bit for bit.
	if r.valL != nil && rec.ValErr < r.bestVal {
		if err := SaveCheckpoint(filepath.Join(r.o.Dir, BestFile), *st, r.params, r.opt); err != nil {
			return err
		}
		r.bestVal = rec.ValErr
	}
	if err := SaveCheckpoint(ckptPath, *st, r.params, r.opt); err != nil {
		return err
	}
	title := fmt.Sprintf("%s on %s", r.spec.Name, cfg.Data)
	return runlog.PlotCurves(r.log.Records(), filepath.Join(r.o.Dir, CurvesFile), title)
}

// evaluate is Evaluate with a progress line on Options.Status that vanishes when done: the
// epoch's summary follows it.
func (r *run) evaluate(l *data.Loader, label string) (Metrics, error) {
	if r.o.Status == nil {
		return Evaluate(r.ev, l)
	}
	prog := runlog.NewProgress(r.o.Status, label, l.Batches())
	defer prog.Vanish()
	return EvaluateProgress(r.ev, l, func(done, _ int, loss float64) { prog.Update(done, loss) })
}

// trainEpoch runs the optimiser over one epoch and returns the mean training loss and error of
// its batches (measured in training mode, before each update) and the number of images.
func (r *run) trainEpoch(ctx context.Context, epoch int) (loss, errRate float64, n int, err error) {
	it := r.trainL.Epoch(epoch)
	defer it.Close()
	var prog *runlog.Progress
	if r.o.Status != nil {
		prog = runlog.NewProgress(r.o.Status, fmt.Sprintf("epoch %d/%d", epoch, r.cfg.Epochs), r.trainL.Batches())
		if n := len(r.epochSecs); n > 0 { // the run's ETA, from the epochs (with evaluation) so far
			var sum float64
			for _, s := range r.epochSecs {
				sum += s
			}
			prog.After = time.Duration(sum / float64(n) * float64(r.cfg.Epochs-epoch) * float64(time.Second))
		}
		defer prog.Done()
	}
	var sum float64
	var wrong, batches int
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		// A group stops together, after the all-reduce of a step (see step).
		if err := ctx.Err(); err != nil && r.comm.Size() == 1 {
			return 0, 0, 0, fmt.Errorf("stopped in epoch %d: %w", epoch, err)
		}
		st := &r.state
		lr := r.sched.At(st.Step)
		r.opt.SetLR(lr)
		l, w, err := r.step(ctx, b)
		if errors.Is(err, context.Canceled) {
			return 0, 0, 0, r.together(fmt.Errorf("stopped in epoch %d: %w", epoch, err))
		}
		if err != nil {
			return 0, 0, 0, err
		}
		// A diverged loss is never applied: the weights in memory stay those of the last step.
		// In a group every rank sees the same loss and stops here.
		if diverged(l, MaxLoss) {
			return 0, 0, 0, r.together(fmt.Errorf("epoch %d, step %d (lr %g): %w (%g); lower Config.LR or add Config.WarmupEpochs", epoch, st.Step+1, lr, ErrDiverged, l))
		}
		for _, o := range r.observers {
			if err := o.Observe(r.tr, epoch, st.Step+1, b); err != nil {
				return 0, 0, 0, err
			}
		}
		if err := r.tr.Apply(); err != nil {
			return 0, 0, 0, err
		}
		st.Step++
		sum += l
		wrong += w
		n += b.N
		r.watchWarmup(float64(w) / float64(b.N))
		batches++
		if prog != nil {
			prog.Update(batches, l)
		}
	}
	return sum / float64(batches), float64(wrong) / float64(n), n, nil
}

// watchWarmup ends a warm-up with Config.WarmupUntilErr once the training error of the last
// WarmupWindow batches is below it; errRate is that of the step just taken.
func (r *run) watchWarmup(errRate float64) {
	st := &r.state
	if r.cfg.WarmupUntilErr == 0 || st.WarmupEnd > 0 || st.Step >= r.sched.Warmup {
		return
	}
	st.WarmupErrs = append(st.WarmupErrs, errRate)
	if len(st.WarmupErrs) > WarmupWindow {
		st.WarmupErrs = st.WarmupErrs[1:]
	}
	if len(st.WarmupErrs) < WarmupWindow {
		return
	}
	var mean float64
	for _, e := range st.WarmupErrs {
		mean += e / WarmupWindow
	}
	if mean < r.cfg.WarmupUntilErr {
		st.WarmupEnd, st.WarmupErrs = st.Step, nil
		r.sched = r.sched.EndWarmup(st.Step)
		if r.o.Out != nil {
			fmt.Fprintf(r.o.Out, "warm-up at lr %g ended after step %d: training error %.1f%% over the last %d batches\n",
				r.cfg.WarmupLR, st.Step, 100*mean, WarmupWindow)
		}
	}
}

func (r *run) printEpoch(rec runlog.Record) {
	if r.o.Out == nil {
		return
	}
	val := ""
	if !math.IsNaN(rec.ValErr) {
		val = fmt.Sprintf("  val loss %.4f err %5.2f%%", rec.ValLoss, 100*rec.ValErr)
	}
	fmt.Fprintf(r.o.Out, "epoch %3d/%d  lr %.4g  train loss %.4f err %5.2f%%%s  test loss %.4f err %5.2f%%  %.0f img/s  %.0f s\n",
		rec.Epoch, r.cfg.Epochs, rec.LR, rec.TrainLoss, 100*rec.TrainErr, val, rec.TestLoss, 100*rec.TestErr, rec.ImgPerSec, rec.EpochSec)
}

// checkRecords reports metrics that disagree with the checkpoint: a resumed run must find the
// records of exactly the epochs 1…epochs it continues after.
func checkRecords(recs []runlog.Record, epochs int) error {
	if len(recs) != epochs {
		return fmt.Errorf("%s holds %d records but the checkpoint is after epoch %d: the run directory is inconsistent", MetricsFile, len(recs), epochs)
	}
	for i, rec := range recs {
		if rec.Epoch != i+1 {
			return fmt.Errorf("%s: record %d is of epoch %d, want %d: the run directory is inconsistent", MetricsFile, i+1, rec.Epoch, i+1)
		}
	}
	return nil
}

func (r *run) close() {
	defer r.lock.Release()
	if r.tr != nil {
		r.tr.Close()
	}
	if r.ev != nil {
		r.ev.Close()
	}
	if r.log != nil {
		r.log.Close()
	}
}

// writeConfig writes cfg as indented JSON, whole or not at all.
func writeConfig(path string, cfg Config) error {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return runlog.WriteFileAtomic(path, append(b, '\n'))
}

// correct counts the rows among the first n whose largest logit is the label.
func correct(logits *tensor.Dense, labels []int, n int) int {
	k := logits.Shape()[1]
	c := 0
	switch d := logits.Data().(type) {
	case []float32:
		for i := 0; i < n; i++ {
			if argmax(d[i*k:(i+1)*k]) == labels[i] {
				c++
			}
		}
	case []float64:
		for i := 0; i < n; i++ {
			if argmax(d[i*k:(i+1)*k]) == labels[i] {
				c++
			}
		}
	}
	return c
}

func argmax[T float32 | float64](v []T) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
