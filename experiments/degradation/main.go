// Command degradation reproduces the paper's Fig. 6 at CPU scale: for each depth it trains the
// plain net and the ResNet of that depth (CIFAR-style, option-A shortcuts, so each pair has the
// same parameters) with the same recipe and seed, then writes the training and test error curves
// (curves.csv, degradation.png), the final errors (table.md, summary.json) and whether the
// paper's claims hold: the deeper plain net trains worse than the shallower one (degradation),
// the deep ResNet trains better than the deep plain net, and the deep ResNet trains no worse than
// the shallow one.
//
//	go run ./experiments/degradation                # Fashion-MNIST, depths 20 and 56, 6 epochs, into runs/degradation
//	go run ./experiments/degradation -quick -out build/quick   # synthetic data, a few seconds
//
// Results already in -out are replaced only with -overwrite, and a -quick run never writes into
// the committed experiments/degradation/results*.
//
// Each net trains into <out>/runs/<model>/. A finished run there is reused and an unfinished one
// resumed, so an interrupted experiment continues where it stopped; a run with other settings is
// an error rather than something to overwrite.
//
// The nets are the experiment's tasks, so that they can train apart, one per process or per
// machine sharing -out (give every call the same flags):
//
//	-list            prints the tasks, one "i<TAB>net" a line: for each depth, plain then ResNet
//	-task i|array    trains task i alone (array: the index of a Slurm or Kubernetes array job)
//	-gather          writes the results from the finished runs, training nothing; it fails, naming
//	                 them and their -task, while a run is missing or unfinished
//
// The default call trains every net, then writes the results as -gather does. -nets
// plain56,plain20 trains the nets named, in that order, and writes no results either.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
	"github.com/resnet-go/resnet/graph/ops"
	"github.com/resnet-go/resnet/resnet"
	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/data"
	"github.com/resnet-go/resnet/train/runlog"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }

// run is the whole program with its streams given, so the test can run it in-process. It returns
// the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	s, err := parseFlags(args, stdout)
	if err == nil && s.replot {
		return cli.Status("degradation", replot(s.out), stderr)
	}
	if err == nil && s.list {
		for i, name := range netNames(s.depths) {
			fmt.Fprintf(stdout, "%d\t%s\n", i, name)
		}
		return cli.ExitOK
	}
	if err == nil {
		// -nets and -task write no results, so only the quick-mode rule applies to them.
		err = cli.CheckResultsDir(s.out, summaryFile, s.quick, s.overwrite || s.nets != nil)
	}
	if err == nil {
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		err = experiment(ctx, s, stdout, stderr)
	}
	return cli.Status("degradation", cli.Flagged(err), stderr)
}

// settings are the flags of the experiment.
type settings struct {
	data, dataDir         string
	depths                []int // ascending
	epochs                int
	trainLimit, testLimit int
	batch                 int
	lr, wd                float64
	seed                  int64
	out                   string
	quick, overwrite      bool
	replot                bool
	workers               int
	nets                  []string // only these nets are trained, no results written; nil: all
	list, gather          bool
	task                  int // the task -task trains (its net is nets[0]), or -1
}

// parseFlags reads and checks the flags. -quick sets the settings of a seconds-long run, but a
// flag given explicitly still wins, so a test can make the quick run smaller still.
func parseFlags(args []string, stdout io.Writer) (settings, error) {
	s := settings{}
	var depths, nets, task string
	fs := cli.NewFlagSet("degradation", "go run ./experiments/degradation [flags]")
	fs.StringVar(&s.data, "data", "fashion-mnist", "data set: "+strings.Join(train.DataSets(), ", "))
	fs.StringVar(&s.dataDir, "data-dir", "", "directory of the data set's files (fashion-mnist default: "+data.DebianFashionMNIST+")")
	fs.StringVar(&depths, "depths", "20,56", "comma-separated depths 6n+2 (at least two); each gets plainD and resnetD")
	fs.IntVar(&s.epochs, "epochs", 6, "epochs per net")
	fs.IntVar(&s.trainLimit, "train-limit", 0, "use only the first n training images (0: all)")
	fs.IntVar(&s.testLimit, "test-limit", 0, "evaluate on the first n test images only (0: all)")
	fs.IntVar(&s.batch, "batch", 128, "training batch size")
	fs.Float64Var(&s.lr, "lr", 0.1, "base learning rate (step schedule: ÷10 at 50% and 75% of the run)")
	fs.Float64Var(&s.wd, "wd", 1e-4, "weight decay, on all parameters (the paper's 0.0001)")
	fs.Int64Var(&s.seed, "seed", 1, "seed of the weights, the shuffling and the augmentation (the same for every net)")
	fs.StringVar(&s.out, "out", filepath.Join("runs", "degradation"), "output directory; the nets train into OUT/runs/MODEL (the committed results: -out experiments/degradation/results -overwrite)")
	fs.BoolVar(&s.overwrite, "overwrite", false, "replace the results already in -out (its finished runs are reused either way)")
	fs.BoolVar(&s.quick, "quick", false, "a run of seconds, for CI: -data synthetic -depths 8,14 -epochs 2 -train-limit 256 -test-limit 200 -batch 32 (flags given explicitly win)")
	fs.IntVar(&s.workers, "workers", 0, "goroutines the ops split work across (0: GOMAXPROCS)")
	fs.BoolVar(&s.replot, "replot", false, "only redraw -out's figure from its curves.csv and summary.json (nothing else is replaced)")
	fs.StringVar(&nets, "nets", "", "train only these comma-separated nets of the experiment (e.g. plain56,resnet56) and write no results; a later run without -nets reuses them")
	fs.BoolVar(&s.list, "list", false, "print the tasks (one net each: i<TAB>net) and exit")
	fs.StringVar(&task, "task", "", "train task i only (see -list) and write no results; array: the index of this process in a Slurm or Kubernetes array job")
	fs.BoolVar(&s.gather, "gather", false, "train nothing: write the results from the finished runs in OUT/runs (every task must have finished)")
	if err := fs.ParseNoArgs(args, stdout); err != nil {
		return s, err
	}
	if s.quick {
		if err := fs.Preset(map[string]string{"data": "synthetic", "depths": "8,14", "epochs": "2", "train-limit": "256",
			"test-limit": "200", "batch": "32"}); err != nil {
			return s, err
		}
	}
	var err error
	if s.depths, err = parseDepths(depths); err != nil {
		return s, cli.UsageError{Err: err}
	}
	if s.nets, err = parseNets(nets, s.depths); err != nil {
		return s, cli.UsageError{Err: err}
	}
	if s.task, err = cli.TaskIndex(task); err != nil {
		return s, err
	}
	all := netNames(s.depths)
	switch {
	case s.replot && (s.list || s.gather || s.task >= 0 || s.nets != nil):
		err = fmt.Errorf("-replot only redraws the figure; drop -list, -task, -gather and -nets")
	case s.list && (s.gather || s.task >= 0 || s.nets != nil):
		err = fmt.Errorf("-list trains nothing; drop -task, -gather and -nets")
	case s.gather && (s.task >= 0 || s.nets != nil):
		err = fmt.Errorf("-gather trains nothing; drop -task and -nets")
	case s.task >= 0 && s.nets != nil:
		err = fmt.Errorf("-task and -nets: choose one")
	case s.task >= len(all):
		if task == "array" {
			task = fmt.Sprintf("array (task %d)", s.task)
		}
		err = fmt.Errorf("-task %s: the experiment has tasks 0 to %d (see -list)", task, len(all)-1)
	}
	if err != nil {
		return s, cli.UsageError{Err: err}
	}
	if s.task >= 0 {
		s.nets = all[s.task : s.task+1] // a task is the net -nets would train alone
	}
	switch {
	case !slices.Contains(train.DataSets(), s.data):
		err = fmt.Errorf("-data %q: want one of %s", s.data, strings.Join(train.DataSets(), ", "))
	case s.epochs < 1:
		err = fmt.Errorf("-epochs %d: want at least 1", s.epochs)
	case s.trainLimit < 0:
		err = fmt.Errorf("-train-limit %d: want 0 (all) or more", s.trainLimit)
	case s.testLimit < 0:
		err = fmt.Errorf("-test-limit %d: want 0 (all) or more", s.testLimit)
	case s.batch < 2:
		err = fmt.Errorf("-batch %d: want at least 2 (BatchNorm needs more than one value per channel)", s.batch)
	case !(s.lr > 0) || math.IsInf(s.lr, 0):
		err = fmt.Errorf("-lr %g: want a positive learning rate", s.lr)
	case !(s.wd >= 0) || s.wd >= 1:
		err = fmt.Errorf("-wd %g: want 0 ≤ weight decay < 1", s.wd)
	case s.out == "":
		err = fmt.Errorf("-out is empty")
	case s.workers < 0:
		err = fmt.Errorf("-workers %d: want 0 (GOMAXPROCS) or more", s.workers)
	}
	if err != nil {
		return s, cli.UsageError{Err: err}
	}
	// The recipe itself is checked by the trainer's own rules too, so nothing reaches training
	// that train.Run would refuse half-way through the list of nets.
	if err := config(s, "resnet"+strconv.Itoa(s.depths[0])).Validate(); err != nil {
		return s, cli.UsageError{Err: err}
	}
	return s, nil
}

// parseDepths reads "20,56" into ascending, distinct CIFAR depths 6n+2.
func parseDepths(list string) ([]int, error) {
	var ds []int
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("-depths %q: %q is not a whole number", list, f)
		}
		if _, err := resnet.CIFAR(d, 10); err != nil { // the 6n+2 rule lives there
			return nil, fmt.Errorf("-depths %q: %d is not a CIFAR depth 6n+2 with n ≥ 1 (8, 14, 20, 32, 44, 56, 110, …)", list, d)
		}
		if slices.Contains(ds, d) {
			return nil, fmt.Errorf("-depths %q: %d is given twice", list, d)
		}
		ds = append(ds, d)
	}
	if len(ds) < 2 {
		return nil, fmt.Errorf("-depths %q: want at least two depths, to compare a shallow and a deep net", list)
	}
	slices.Sort(ds)
	return ds, nil
}

// netName is the model name of the plain net or the ResNet of a depth.
func netName(depth int, plain bool) string {
	if plain {
		return fmt.Sprintf("plain%d", depth)
	}
	return fmt.Sprintf("resnet%d", depth)
}

// netNames are the experiment's nets in training order: for each depth, plain then ResNet.
func netNames(depths []int) []string {
	var names []string
	for _, d := range depths {
		names = append(names, netName(d, true), netName(d, false))
	}
	return names
}

// parseNets reads -nets: distinct nets of the experiment, or nil for all of them.
func parseNets(list string, depths []int) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	all := netNames(depths)
	var nets []string
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
			continue
		case !slices.Contains(all, f):
			return nil, fmt.Errorf("-nets %q: %q is not a net of this experiment (%s)", list, f, strings.Join(all, ", "))
		case slices.Contains(nets, f):
			return nil, fmt.Errorf("-nets %q: %s is given twice", list, f)
		}
		nets = append(nets, f)
	}
	return nets, nil
}

// config is the paper's CIFAR recipe (Sec. 4.2) for one net, the same for all but the model:
// SGD with momentum 0.9 (not Nesterov), weight decay on every parameter, the rate divided by 10
// at half and three quarters of the run, 4-pixel padding with random crops and flips.
func config(s settings, model string) train.Config {
	c := train.DefaultConfig()
	c.Model = model
	c.Data, c.DataDir = s.data, s.dataDir
	c.Val = 0
	c.TrainLimit, c.TestLimit = s.trainLimit, s.testLimit
	c.Epochs, c.Batch = s.epochs, s.batch
	c.LR, c.Schedule, c.Milestones, c.Gamma = s.lr, "step", []float64{0.5, 0.75}, 0.1
	// Deep plain nets at lr 0.1 diverge without a warm-up (the paper warms ResNet-110 up); one
	// epoch of it, or half the run when there is only one epoch (the warm-up must end in the run).
	c.WarmupEpochs = 1
	if s.epochs == 1 {
		c.WarmupEpochs = 0.5
	}
	c.Momentum, c.Nesterov = 0.9, false
	c.WeightDecay, c.NoDecay1D = s.wd, false
	c.Pad, c.Flip, c.Normalize = 4, true, true
	c.ZeroInitResidual = false
	c.Seed = s.seed
	c.Dtype = "float32"
	return c
}

// netPlan is one net of the experiment and what to do with its run directory.
type netPlan struct {
	model  string
	depth  int
	plain  bool
	cfg    train.Config
	dir    string
	action action
	// records of a finished run that is reused
	records []runlog.Record
}

type action int

const (
	fresh  action = iota // nothing there (or a run.json of the same settings without a checkpoint)
	resume               // an unfinished run with the same settings
	reuse                // a finished run with the same settings
)

// dataInfo is what the experiment needs to know of the data set, beyond the run configuration.
type dataInfo struct {
	trainN, testN int
	classes       int
	c, h, w       int
}

// experiment trains (or reuses) every net, then writes the results into s.out. With -task or -nets
// it trains only those nets; with -gather it trains none, and every run must have finished. Both
// the default call and -gather write the results through the same loop, from the same records.
func experiment(ctx context.Context, s settings, stdout, stderr io.Writer) error {
	if s.workers > 0 {
		ops.SetWorkers(s.workers)
	}
	// Open the data once up front: a missing file is reported before any training, and the
	// summary needs the number of images and their shape even when every run is reused.
	di, err := openData(s)
	if err != nil {
		return err
	}
	if di.trainN < s.batch {
		return cli.Usagef("-batch %d is larger than the %d training images", s.batch, di.trainN)
	}
	// Inspect every run directory before training anything, so a conflicting run is reported at
	// once rather than after hours of training the nets before it.
	var plans []*netPlan
	for _, d := range s.depths {
		for _, plain := range []bool{true, false} {
			model := netName(d, plain)
			p := &netPlan{model: model, depth: d, plain: plain, cfg: config(s, model), dir: filepath.Join(s.out, "runs", model)}
			if err := p.inspect(); err != nil {
				return err
			}
			plans = append(plans, p)
		}
	}

	if s.task >= 0 {
		p := plans[s.task]
		if p.action == reuse {
			fmt.Fprintf(stdout, "task %d %s: already finished in %s; nothing to train\n", s.task, p.model, p.dir)
			return nil
		}
		fmt.Fprintf(stdout, "task %d %s: ", s.task, p.model)
		if _, err := p.train(ctx, stdout, stderr); err != nil {
			return fmt.Errorf("task %d %s: %w", s.task, p.model, err)
		}
		fmt.Fprintf(stdout, "task %d %s: finished; once every task has, -gather writes the results into %s\n", s.task, p.model, s.out)
		return nil
	}
	if s.nets != nil {
		// Only the nets asked for, in the order given; the results need all of them.
		var some []*netPlan
		for _, name := range s.nets {
			i := slices.IndexFunc(plans, func(p *netPlan) bool { return p.model == name })
			some = append(some, plans[i])
		}
		for i, p := range some {
			fmt.Fprintf(stdout, "[%d/%d] %s: ", i+1, len(some), p.model)
			if _, err := p.train(ctx, stdout, stderr); err != nil {
				return fmt.Errorf("%s: %w", p.model, err)
			}
		}
		fmt.Fprintf(stdout, "trained %s; run again without -nets to write the results into %s\n", strings.Join(s.nets, ", "), s.out)
		return nil
	}
	if s.gather {
		if err := finished(plans); err != nil {
			return err
		}
	}

	var results []netResult
	for i, p := range plans {
		fmt.Fprintf(stdout, "[%d/%d] %s: ", i+1, len(plans), p.model)
		recs, err := p.train(ctx, stdout, stderr)
		if err != nil {
			return fmt.Errorf("%s: %w", p.model, err)
		}
		params, err := countParams(p.model, di)
		if err != nil {
			return err
		}
		results = append(results, newNetResult(p, params, recs))
	}

	sum := newSummary(s, di, results)
	if err := writeResults(s.out, sum); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, sum.markdown())
	fmt.Fprintf(stdout, "\nresults in %s: %s, %s, %s, %s\n", s.out, curvesFile, summaryFile, tableFile, figureFile)
	return nil
}

// finished reports, in one line, the nets whose runs -gather lacks and the -task that trains each.
func finished(plans []*netPlan) error {
	var lack []string
	for i, p := range plans {
		switch p.action {
		case fresh:
			lack = append(lack, fmt.Sprintf("%s (not started: -task %d)", p.model, i))
		case resume:
			lack = append(lack, fmt.Sprintf("%s (unfinished: -task %d resumes it)", p.model, i))
		}
	}
	if lack == nil {
		return nil
	}
	return fmt.Errorf("-gather: %d of %d runs in %s are not finished: %s", len(lack), len(plans),
		filepath.Dir(plans[0].dir), strings.Join(lack, ", "))
}

// openData opens both splits to learn their sizes and shape, with the limits applied as the
// trainer applies them.
func openData(s settings) (dataInfo, error) {
	tr, err := data.Open(s.data, s.dataDir, "train")
	if err != nil {
		return dataInfo{}, err
	}
	te, err := data.Open(s.data, s.dataDir, "test")
	if err != nil {
		return dataInfo{}, err
	}
	limit := func(n, lim int) int {
		if lim > 0 && lim < n {
			return lim
		}
		return n
	}
	c, h, w := tr.Shape()
	return dataInfo{trainN: limit(tr.Len(), s.trainLimit), testN: limit(te.Len(), s.testLimit),
		classes: tr.Classes(), c: c, h: h, w: w}, nil
}

// inspect decides what to do with the net's run directory. A run there with other settings is an
// error: its results would be mixed into this experiment's, and deleting it is the user's call.
func (p *netPlan) inspect() error {
	ckptPath := filepath.Join(p.dir, train.CheckpointFile)
	if _, err := os.Stat(ckptPath); err == nil {
		ck, err := train.LoadCheckpoint(ckptPath)
		if err != nil {
			return fmt.Errorf("run directory %s: %w", p.dir, err)
		}
		if !reflect.DeepEqual(ck.State.Config, p.cfg) {
			return fmt.Errorf("run directory %s holds a run with other settings (%s); choose another -out or remove it",
				p.dir, train.DiffConfig(ck.State.Config, p.cfg))
		}
		if ck.State.Epoch < p.cfg.Epochs {
			p.action = resume
			return nil
		}
		recs, err := runlog.ReadRecords(filepath.Join(p.dir, train.MetricsFile))
		if err != nil {
			return fmt.Errorf("run directory %s: the run is finished but its metrics cannot be read: %w", p.dir, err)
		}
		// Records after the checkpoint's epoch belong to a crash between logging and checkpointing.
		recs = slices.DeleteFunc(recs, func(r runlog.Record) bool { return r.Epoch > ck.State.Epoch })
		if err := checkRecords(recs, p.cfg.Epochs); err != nil {
			return fmt.Errorf("run directory %s: %w", p.dir, err)
		}
		p.action, p.records = reuse, recs
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("run directory %s: %w", p.dir, err)
	}
	// No checkpoint: a run that stopped within its first epoch leaves only run.json. With the
	// same settings it simply starts again; with others it is still someone else's run.
	cfgPath := filepath.Join(p.dir, train.ConfigFile)
	if _, err := os.Stat(cfgPath); err == nil {
		old, err := train.ReadConfig(cfgPath, train.Config{})
		if err != nil {
			return fmt.Errorf("run directory %s: %w", p.dir, err)
		}
		if !reflect.DeepEqual(old, p.cfg) {
			return fmt.Errorf("run directory %s holds a run with other settings (%s); choose another -out or remove it",
				p.dir, train.DiffConfig(old, p.cfg))
		}
	}
	p.action = fresh
	return nil
}

// train runs (or resumes) the net, or returns the records of its finished run.
func (p *netPlan) train(ctx context.Context, stdout, stderr io.Writer) ([]runlog.Record, error) {
	if p.action == reuse {
		fmt.Fprintf(stdout, "reusing the finished run in %s\n", p.dir)
		return p.records, nil
	}
	s, err := train.Prepare(p.cfg, train.Options{Dir: p.dir, Resume: p.action == resume, Out: stdout, Status: stderr})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	verb := "training"
	if p.action == resume {
		verb = "resuming"
	}
	fmt.Fprintf(stdout, "%s %s, into %s\n", verb, s.Describe(), p.dir)
	start := time.Now()
	res, err := s.Train(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkRecords(res.Records, p.cfg.Epochs); err != nil {
		return nil, fmt.Errorf("run directory %s: %w", p.dir, err)
	}
	fmt.Fprintf(stdout, "%s done in %s\n", p.model, time.Since(start).Round(time.Second/10))
	return res.Records, nil
}

// checkRecords makes sure a run's metrics are one record per epoch 1..epochs, in order.
func checkRecords(recs []runlog.Record, epochs int) error {
	if len(recs) != epochs {
		return fmt.Errorf("%s holds %d epochs, want %d", train.MetricsFile, len(recs), epochs)
	}
	for i, r := range recs {
		if r.Epoch != i+1 {
			return fmt.Errorf("%s: record %d is of epoch %d", train.MetricsFile, i+1, r.Epoch)
		}
	}
	return nil
}
