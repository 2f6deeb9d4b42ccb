package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
	"github.com/resnet-go/resnet/graph/ops"
	"github.com/resnet-go/resnet/resnet"
	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/dist"
)

// runFlags are the flags of `trainer train` that are not part of train.Config.
type runFlags struct {
	config     string
	out        string
	resume     bool
	workers    int
	quiet      bool
	probe      int
	stopAfter  int
	dist       string
	accumulate int
}

// registerConfig binds every setting of c to a flag whose default is c's current value, so
// defaults come from DefaultConfig, a -config file or a checkpoint.
func registerConfig(fs *cli.FlagSet, c *train.Config) {
	fs.StringVar(&c.Model, "model", c.Model, "model: resnet20…resnet110, plain20…, resnet18…resnet152, lesson-resnet18…lesson-resnet152, plain18…, "+
		"preresnet20…preresnet164, preresnet18…preresnet152 (pre-activation), preplain20…")
	fs.StringVar(&c.Data, "data", c.Data, "data set: "+strings.Join(train.DataSets(), ", "))
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory of the data set's files (fashion-mnist default: /usr/share/datasets/fashion-mnist)")
	fs.IntVar(&c.Val, "val", c.Val, "training examples held out for validation")
	fs.IntVar(&c.TrainLimit, "train-limit", c.TrainLimit, "use only the first n training examples (0: all)")
	fs.IntVar(&c.TestLimit, "test-limit", c.TestLimit, "evaluate on the first n test examples only (0: all)")
	fs.IntVar(&c.Epochs, "epochs", c.Epochs, "epochs")
	fs.IntVar(&c.Batch, "batch", c.Batch, "training batch size")
	fs.IntVar(&c.EvalBatch, "eval-batch", c.EvalBatch, "evaluation batch size")
	fs.Float64Var(&c.LR, "lr", c.LR, "base learning rate")
	fs.StringVar(&c.Schedule, "schedule", c.Schedule, "learning-rate schedule: "+train.ScheduleKinds)
	fs.Var((*floatList)(&c.Milestones), "milestones", "fractions of the run where the step schedule multiplies the rate by -gamma")
	fs.Float64Var(&c.Gamma, "gamma", c.Gamma, "step schedule factor")
	fs.Float64Var(&c.WarmupEpochs, "warmup", c.WarmupEpochs, "linear warm-up, in epochs")
	fs.Float64Var(&c.WarmupLR, "warmup-lr", c.WarmupLR, "a constant rate for the warm-up instead of the linear ramp (the paper's ResNet-110: 0.01)")
	fs.Float64Var(&c.WarmupUntilErr, "warmup-until-error", c.WarmupUntilErr, "with -warmup-lr: end the warm-up once the training error of the last 10 batches is below this (the paper: 0.8); -warmup is then its limit")
	fs.Float64Var(&c.Momentum, "momentum", c.Momentum, "SGD momentum")
	fs.BoolVar(&c.Nesterov, "nesterov", c.Nesterov, "Nesterov momentum")
	fs.Float64Var(&c.WeightDecay, "wd", c.WeightDecay, "weight decay")
	fs.BoolVar(&c.NoDecay1D, "no-decay-1d", c.NoDecay1D, "no weight decay on BatchNorm γ, β and biases")
	fs.IntVar(&c.Pad, "pad", c.Pad, "augmentation: zero padding before a random crop (0: no crop)")
	fs.BoolVar(&c.Flip, "flip", c.Flip, "augmentation: random horizontal flips (default off for -data mnist)")
	fs.BoolVar(&c.Normalize, "normalize", c.Normalize, "normalise each channel by the training set's mean and std")
	fs.StringVar(&c.Init, "init", c.Init, "start from these weights (safetensors, PyTorch .pth or a checkpoint); a classifier of another class count is re-initialised")
	fs.StringVar(&c.Freeze, "freeze", c.Freeze, "with -init: keep stem (conv1, bn1) or layerK (the stem and stages 1…K) as loaded")
	fs.BoolVar(&c.ZeroInitResidual, "zero-init-residual", c.ZeroInitResidual, "start each residual branch's last BN at γ = 0")
	fs.Int64Var(&c.Seed, "seed", c.Seed, "seed of the weights, the shuffling and the augmentation")
	fs.StringVar(&c.Dtype, "dtype", c.Dtype, "float32 or float64")
}

func (r *runFlags) register(fs *cli.FlagSet) {
	fs.StringVar(&r.config, "config", r.config, "read the settings from a JSON file (run.json of a run); flags override it")
	fs.StringVar(&r.out, "out", r.out, "run directory (default runs/MODEL-DATA-TIME)")
	fs.BoolVar(&r.resume, "resume", r.resume, "continue the run in -out from its checkpoint")
	fs.IntVar(&r.workers, "workers", r.workers, "goroutines the ops split work across (0: GOMAXPROCS)")
	fs.BoolVar(&r.quiet, "quiet", r.quiet, "no progress display")
	fs.IntVar(&r.probe, "probe", r.probe, "every n steps, record per-layer gradient norms and BN response std in probe.csv (0: off)")
	fs.IntVar(&r.stopAfter, "stop-after", r.stopAfter, "stop after this epoch of the run, checkpointed; -resume continues it (0: run all -epochs)")
	fs.StringVar(&r.dist, "dist", r.dist, "data-parallel training over processes: none, or mpi (under mpirun -np N; -batch is the global batch, split over the ranks)")
	fs.IntVar(&r.accumulate, "accumulate", r.accumulate, "split each rank's part of a batch into this many micro-batches and average their gradients (the work of N ranks in one process)")
}

// floatList is a comma-separated flag of numbers.
type floatList []float64

func (f *floatList) String() string {
	s := make([]string, len(*f))
	for i, v := range *f {
		s[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

func (f *floatList) Set(s string) error {
	var out []float64
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		v, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", p)
		}
		out = append(out, v)
	}
	*f = out
	return nil
}

// trainConfig resolves the settings of a train command: the built-in default, then the -config
// file or, with -resume, the checkpoint's own configuration, then the flags given.
func trainConfig(args []string, stdout io.Writer) (train.Config, runFlags, error) {
	// First pass: find -config, -out and -resume, which decide where the defaults come from.
	var rf runFlags
	probe := cli.NewFlagSet("train", "trainer train [flags]")
	scratch := train.DefaultConfig()
	registerConfig(probe, &scratch)
	rf.register(probe)
	if err := probe.ParseNoArgs(args, stdout); err != nil {
		return train.Config{}, rf, err
	}
	base := train.DefaultConfig()
	switch {
	case rf.resume && rf.config != "":
		return base, rf, cli.UsageError{Err: fmt.Errorf("-resume takes the settings from the checkpoint; drop -config")}
	case rf.resume:
		if rf.out == "" {
			return base, rf, cli.UsageError{Err: fmt.Errorf("-resume needs -out, the directory of the run to continue")}
		}
		ck, err := train.LoadCheckpoint(filepath.Join(rf.out, train.CheckpointFile))
		if err != nil {
			return base, rf, fmt.Errorf("-resume: %w", err)
		}
		base = ck.State.Config
	case rf.config != "":
		var err error
		if base, err = train.ReadConfig(rf.config, base); err != nil {
			return base, rf, cli.UsageError{Err: err}
		}
	}
	fs := cli.NewFlagSet("train", "trainer train [flags]")
	cfg := base
	registerConfig(fs, &cfg)
	rf.register(fs)
	if err := fs.ParseNoArgs(args, stdout); err != nil {
		return cfg, rf, err
	}
	// Built-in defaults that depend on other settings; a -config file or a checkpoint already
	// holds its own values.
	if !rf.resume && rf.config == "" {
		if !fs.Given("warmup") {
			cfg.WarmupEpochs = defaultWarmup(cfg.Epochs)
		}
		if !fs.Given("flip") && cfg.Data == "mnist" {
			cfg.Flip = false // a mirrored digit is another glyph, or none
		}
	}
	if rf.probe < 0 {
		return cfg, rf, cli.UsageError{Err: fmt.Errorf("-probe %d: want 0 (off) or a number of steps", rf.probe)}
	}
	if rf.workers < 0 {
		return cfg, rf, cli.UsageError{Err: fmt.Errorf("-workers %d: must not be negative", rf.workers)}
	}
	if rf.stopAfter < 0 {
		return cfg, rf, cli.UsageError{Err: fmt.Errorf("-stop-after %d: want 0 (all epochs) or an epoch of the run", rf.stopAfter)}
	}
	if rf.accumulate < 0 {
		return cfg, rf, cli.UsageError{Err: fmt.Errorf("-accumulate %d: want 1 (whole batches) or more micro-batches", rf.accumulate)}
	}
	if rf.dist != "" && rf.dist != "none" && rf.dist != "mpi" {
		return cfg, rf, cli.UsageError{Err: fmt.Errorf("-dist %s: want none or mpi", rf.dist)}
	}
	if rf.probe > 0 && (rf.accumulate > 1 || rf.dist == "mpi") {
		// The probe reads a whole batch's gradients and responses out of one graph.
		return cfg, rf, cli.UsageError{Err: fmt.Errorf("-probe needs whole batches: drop -accumulate and -dist")}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, rf, cli.UsageError{Err: cli.Flagged(err)}
	}
	spec, err := resnet.ByName(cfg.Model, 10, 1)
	if err != nil {
		return cfg, rf, cli.UsageError{Err: err}
	}
	cfg.Model = spec.Name // the canonical name: "ResNet20" trains resnet20
	if rf.out == "" {
		rf.out = filepath.Join("runs", fmt.Sprintf("%s-%s-%s", cfg.Model, cfg.Data, time.Now().Format("20060102-150405")))
	}
	return cfg, rf, nil
}

// defaultWarmup scales the built-in warm-up (1 epoch of the 15-epoch default run) with the run's
// length, so that a short run (-epochs 1) works without -warmup.
func defaultWarmup(epochs int) float64 {
	def := train.DefaultConfig()
	return min(def.WarmupEpochs, def.WarmupEpochs*float64(epochs)/float64(def.Epochs))
}

func trainCmd(args []string, stdout, stderr io.Writer) error {
	return cli.Flagged(trainRun(args, stdout, stderr))
}

func trainRun(args []string, stdout, stderr io.Writer) (err error) {
	cfg, rf, err := trainConfig(args, stdout)
	if err != nil {
		return err
	}
	comm, err := dist.Open(rf.dist)
	if err != nil {
		return fmt.Errorf("-dist %s: %w", rf.dist, err)
	}
	defer func() { err = leaveGroup(comm, err, stderr) }()
	if comm.Rank() > 0 {
		stdout = io.Discard // rank 0 speaks for the group
	}
	if rf.workers > 0 {
		ops.SetWorkers(rf.workers)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := train.Options{Dir: rf.out, Resume: rf.resume, Out: stdout, ProbeEvery: rf.probe, StopAfter: rf.stopAfter,
		Comm: comm, Accumulate: rf.accumulate}
	if !rf.quiet && comm.Rank() == 0 {
		o.Status = stderr
	}
	s, err := train.Prepare(cfg, o)
	if err != nil {
		return err
	}
	defer s.Close()
	verb := "training"
	if rf.resume {
		verb = "resuming"
	}
	fmt.Fprintf(stdout, "%s %s\n", verb, s.Describe())
	fmt.Fprintf(stdout, "batch %d, lr %g (%s), momentum %g, weight decay %g, blas %s, workers %d; run directory %s\n",
		cfg.Batch, cfg.LR, cfg.Schedule, cfg.Momentum, cfg.WeightDecay, ops.BLAS(), ops.Workers(), rf.out)
	if sh := s.Sharding(); sh.Parts() > 1 {
		fmt.Fprintln(stdout, sh)
	}
	res, err := s.Train(ctx)
	if err != nil {
		return err
	}
	f, ok := res.Final()
	if !ok {
		return fmt.Errorf("%s: the run has no epoch to report", rf.out)
	}
	fmt.Fprintf(stdout, "test accuracy: %.2f%% (error %.2f%%, loss %.4f) after %d epochs, %s; curves and checkpoint in %s\n",
		100*(1-f.TestErr), 100*f.TestErr, f.TestLoss, f.Epoch, time.Duration(f.WallSec*float64(time.Second)).Round(time.Second), rf.out)
	if f.Epoch < cfg.Epochs {
		fmt.Fprintf(stdout, "stopped after epoch %d of %d: continue with trainer train -resume -out %s\n", f.Epoch, cfg.Epochs, rf.out)
	}
	return nil
}

// leaveGroup leaves the group of a run whose outcome on this rank is err. An error every rank
// returned together lets each leave normally; one of this rank's alone would leave the others
// waiting for it in their next all-reduce, so it ends the whole job.
func leaveGroup(comm dist.Comm, err error, stderr io.Writer) error {
	if err != nil && comm.Size() > 1 {
		err = fmt.Errorf("rank %d of %d: %w", comm.Rank(), comm.Size(), err)
		if !train.Collective(err) {
			fmt.Fprintf(stderr, "trainer train: %v; ending every rank\n", err)
			comm.Abort(cli.ExitFailure)
		}
	}
	if cerr := comm.Close(); err == nil {
		err = cerr
	}
	return err
}
