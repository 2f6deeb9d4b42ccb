// Command gradflow measures how the loss gradient reaches the layers of plain and residual nets
// (He et al. 2016 and the text's §3: in a residual block ∂L/∂x = ∂L/∂y·(1 + ∂F/∂x), so the
// gradient has an identity path to every block; a plain block only has ∂L/∂y·∂F/∂x).
//
// For each depth and for the plain net and the ResNet it takes one fixed batch and records, at
// initialisation and after a short training, the norm of ∂L/∂x at every block input and of ∂L/∂W
// for every convolution (the values of the nodes gorgonia's backward pass builds, read through
// G.Read and the parameter nodes' gradients: train.Measure), and the standard deviation of every
// BatchNorm response (the paper's Fig. 7). It writes gradflow.csv, ratios.csv, summary.md and
// three figures into -out.
//
//	go run -tags openblas ./experiments/gradflow                 # full: depths 20, 56, 110 on Fashion-MNIST, into runs/gradflow
//	go run ./experiments/gradflow -quick -out /tmp/gradflow      # seconds, synthetic data (CI)
//
// Results already in -out are replaced only with -overwrite, and a -quick run never writes
// into the committed experiments/gradflow/results.
//
// Each net is a task, measured into OUT/tasks/MODEL.json (written whole or not at all) and never
// measured again: an interrupted study continues where it stopped. The first call records the
// settings in OUT/settings.json, and a call with other settings is refused rather than mixing
// nets measured otherwise. The tasks can run apart, one per process or per machine sharing -out
// (give every call the same flags):
//
//	-list            prints the tasks, one "i<TAB>net" a line: for each depth, plain then ResNet
//	-task i|array    measures task i alone (array: the index of a Slurm or Kubernetes array job)
//	-gather          writes the results from the task files, measuring nothing; it fails, naming
//	                 them and their -task, while a task is missing
//
// The default call measures every task that is missing, then gathers, as -gather does.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
	"github.com/resnet-go/resnet/resnet"
)

func main() {
	os.Exit(cli.Status("gradflow", run(os.Args[1:], os.Stdout), os.Stderr))
}

// settings are the experiment's flags.
type settings struct {
	Data      string  `json:"data"`
	DataDir   string  `json:"data_dir,omitempty"`
	Depths    []int   `json:"depths"`
	Steps     int     `json:"steps"` // training steps between the two measurements
	Warmup    int     `json:"warmup_steps"`
	Batch     int     `json:"batch"`
	LR        float64 `json:"lr"`
	WD        float64 `json:"weight_decay"`
	Seed      int64   `json:"seed"`
	Out       string  `json:"-"`
	Workers   int     `json:"-"`
	replot    bool
	quick     bool
	overwrite bool
	list      bool
	gather    bool
	task      int // the task -task measures, or -1
}

func parseFlags(args []string, stdout io.Writer) (settings, error) {
	fs := cli.NewFlagSet("gradflow", "go run ./experiments/gradflow [flags]")
	s := settings{}
	depths := fs.String("depths", "20,56,110", "depths 6n+2 of the CIFAR-style nets")
	replot := fs.Bool("replot", false, "only redraw the figures from -out's gradflow.csv and settings.json")
	taskFlag := fs.String("task", "", "measure task i only (see -list) into OUT/tasks; array: the index of this process in a Slurm or Kubernetes array job")
	fs.BoolVar(&s.list, "list", false, "print the tasks (one net each: i<TAB>net) and exit")
	fs.BoolVar(&s.gather, "gather", false, "measure nothing: write the results from the task files in OUT/tasks (every task must be there)")
	quick := fs.Bool("quick", false, "a few seconds on synthetic data: depths 8,14, 5 steps, batch 16 (for CI)")
	fs.StringVar(&s.Data, "data", "fashion-mnist", "data set (see trainer train -data)")
	fs.StringVar(&s.DataDir, "data-dir", "", "directory of the data set's files")
	fs.IntVar(&s.Steps, "steps", 200, "training steps between the two measurements")
	fs.IntVar(&s.Warmup, "warmup", 50, "linear learning-rate warm-up, in steps")
	fs.IntVar(&s.Batch, "batch", 128, "batch size (the fixed batch and the training batches)")
	fs.Float64Var(&s.LR, "lr", 0.1, "learning rate (momentum 0.9, as the paper)")
	fs.Float64Var(&s.WD, "wd", 1e-4, "weight decay (the paper's)")
	fs.Int64Var(&s.Seed, "seed", 1, "seed of the weights, the fixed batch's draw and the training order")
	fs.StringVar(&s.Out, "out", filepath.Join("runs", "gradflow"), "output directory (the committed results: -out experiments/gradflow/results -overwrite)")
	fs.BoolVar(&s.overwrite, "overwrite", false, "replace the results already in -out (its measured tasks are reused either way)")
	fs.IntVar(&s.Workers, "workers", 0, "goroutines the ops use (0: GOMAXPROCS)")
	if err := fs.ParseNoArgs(args, stdout); err != nil {
		return s, err
	}
	s.quick = *quick
	if *quick {
		s.Data, *depths, s.Steps, s.Warmup, s.Batch = "synthetic", "8,14", 5, 2, 16
	}
	s.replot = *replot
	for _, d := range strings.Split(*depths, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(d))
		if err == nil {
			_, err = resnet.CIFAR(n, 10) // the 6n+2 rule lives there
		}
		if err != nil {
			return s, cli.Usagef("-depths %q: %q is not a depth 6n+2 ≥ 8", *depths, d)
		}
		if slices.Contains(s.Depths, n) { // its two tasks would be one file
			return s, cli.Usagef("-depths %q: %d is given twice", *depths, n)
		}
		s.Depths = append(s.Depths, n)
	}
	var err error
	if s.task, err = cli.TaskIndex(*taskFlag); err != nil {
		return s, err
	}
	switch {
	case s.replot && (s.list || s.gather || s.task >= 0):
		return s, cli.Usagef("-replot only redraws the figures; drop -list, -task and -gather")
	case s.list && (s.gather || s.task >= 0):
		return s, cli.Usagef("-list measures nothing; drop -task and -gather")
	case s.gather && s.task >= 0:
		return s, cli.Usagef("-gather and -task: choose one")
	case s.task >= 2*len(s.Depths):
		label := *taskFlag
		if label == "array" {
			label = fmt.Sprintf("array (task %d)", s.task)
		}
		return s, cli.Usagef("-task %s: the study has tasks 0 to %d (see -list)", label, 2*len(s.Depths)-1)
	}
	switch {
	case s.Steps < 1:
		return s, cli.Usagef("-steps %d: want at least 1", s.Steps)
	case s.Warmup < 0 || s.Warmup > s.Steps:
		return s, cli.Usagef("-warmup %d: want 0…-steps", s.Warmup)
	case s.Batch < 2:
		return s, cli.Usagef("-batch %d: want at least 2", s.Batch)
	case !(s.LR > 0):
		return s, cli.Usagef("-lr %g: want a positive rate", s.LR)
	case s.WD < 0:
		return s, cli.Usagef("-wd %g: want 0 or more", s.WD)
	}
	return s, nil
}

func run(args []string, stdout io.Writer) error {
	s, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	if s.replot { // redraws the figures of -out from its own numbers: nothing else is replaced
		return replot(s.Out)
	}
	ts := s.tasks()
	if s.list {
		for _, t := range ts {
			fmt.Fprintf(stdout, "%d\t%s\n", t.Index, t.Model)
		}
		return nil
	}
	// A task writes no results, so only the quick-mode rule applies to it.
	if err := cli.CheckResultsDir(s.Out, "gradflow.csv", s.quick, s.overwrite || s.task >= 0); err != nil {
		return err
	}
	// -gather records nothing: with wrong flags it would make the study's own tasks refused.
	if err := checkSettings(s, !s.gather); err != nil {
		return err
	}
	switch {
	case s.task >= 0:
		return runTasks(s, ts[s.task:s.task+1], stdout)
	case !s.gather:
		// One code path: the default call writes every task file, then gathers them.
		if err := runTasks(s, ts, stdout); err != nil {
			return err
		}
	}
	return gather(s, stdout)
}
