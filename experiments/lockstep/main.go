// Command lockstep trains this project's ResNet and its PyTorch twin in lock-step, to tell
// rounding from a defect: the same initial weights (exported from Go, loaded into PyTorch with
// strict=True), the same batches in the same order (augmented and normalised by the Go loader,
// written to a file and fed to both), the same recipe (SGD with momentum 0.9 and weight decay
// 1e-4 on every parameter, the same learning rate at every step) and the same number of steps.
// Each side records, per step and before its update: the loss, the learning rate, the global
// gradient norm, the gradient norms of a few convolutions and of fc, and the running statistics
// of a few BatchNorms. The program then writes both side by side.
//
// Float32 trajectories of two correct implementations drift apart by rounding: their relative
// difference starts near 1e-7 and grows by a roughly constant factor per step (training is
// chaotic) until it saturates. In float64 (-dtype float64) the same drift starts near 1e-15, so
// it reaches any given size many steps later. A defect does not care about the precision: it
// shows as an early split of the same size in both.
//
//	go run -tags openblas ./experiments/lockstep -out experiments/lockstep/results -overwrite   # ResNet-56, Fashion-MNIST
//	go run ./experiments/lockstep -quick -out /tmp/lockstep                                    # seconds (CI)
//
// Files in -out: steps.csv (dtype, step, quantity, go, torch, relative difference), params.csv
// (for every parameter: the relative difference of its gradient at step 1 and of its value after
// the last step), runs.csv (settings and wall times), summary.md and lockstep.png. A run replaces
// the rows of the dtypes it ran and keeps those of the others, so float32 and float64 can run in
// separate calls (-dtype float32, then -dtype float64 -overwrite) and still share one summary.
//
// The exchange files go to -work (a temporary directory, removed at the end, unless -work is
// given): initial.safetensors (the initial weights, weights.FromParams), batches.bin,
// meta.json (the settings and the learning rate of every step), grads1.safetensors (Go's
// gradients at step 1), final.safetensors (Go's weights after the last step), go.json and
// torch.json (each side's records). batches.bin holds the steps one after the other; step k
// (from 0) is Batch labels as little-endian int32, then Batch×C×H×W inputs in the run's dtype
// (little-endian IEEE float32 or float64, C order N, C, H, W): a record of
// Batch·4 + Batch·C·H·W·size bytes at offset k times that.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
	"github.com/resnet-go/resnet/resnet"
	"github.com/resnet-go/resnet/train"
)

func main() {
	os.Exit(cli.Status("lockstep", run(os.Args[1:], os.Stdout), os.Stderr))
}

// summaryFile marks -out as holding results.
const summaryFile = "summary.md"

// settings are the experiment's flags.
type settings struct {
	Model    string   `json:"model"`
	Data     string   `json:"data"`
	DataDir  string   `json:"data_dir,omitempty"`
	Dtypes   []string `json:"dtypes"`
	Steps    int      `json:"steps"`
	Steps64  int      `json:"steps_float64"`
	Batch    int      `json:"batch"`
	LR       float64  `json:"lr"`
	Warmup   int      `json:"warmup_steps"`
	Momentum float64  `json:"momentum"`
	WD       float64  `json:"weight_decay"`
	Seed     int64    `json:"seed"`

	out, work, python, script string
	threads, workers          int
	quick, overwrite, replot  bool
	control                   bool
	nudge                     int      // ulps the control moves each weight by
	args                      []string // the command line, for the record
}

// defaultScript is lockstep.py next to this file, where go run and go test find it.
func defaultScript() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "lockstep.py"
	}
	return filepath.Join(filepath.Dir(file), "lockstep.py")
}

func parseFlags(args []string, stdout io.Writer) (settings, error) {
	fs := cli.NewFlagSet("lockstep", "go run ./experiments/lockstep [flags]")
	s := settings{args: args}
	var dtypes string
	fs.StringVar(&s.Model, "model", "resnet56", "CIFAR-style net resnetD or plainD (D = 6n+2)")
	fs.StringVar(&s.Data, "data", "fashion-mnist", "data set: "+strings.Join(train.DataSets(), ", "))
	fs.StringVar(&s.DataDir, "data-dir", "", "directory of the data set's files")
	fs.StringVar(&dtypes, "dtype", "float32", "float32, float64 or both (float32,float64): each runs both sides")
	fs.IntVar(&s.Steps, "steps", 300, "training steps")
	fs.IntVar(&s.Steps64, "steps64", 0, "training steps of the float64 run (0: -steps)")
	fs.IntVar(&s.Batch, "batch", 128, "batch size")
	fs.Float64Var(&s.LR, "lr", 0.1, "learning rate after the warm-up")
	fs.IntVar(&s.Warmup, "warmup", 50, "linear warm-up, in steps (the degradation study warms up over its first epoch, 468 steps)")
	fs.Float64Var(&s.Momentum, "momentum", 0.9, "SGD momentum (the degradation study's)")
	fs.Float64Var(&s.WD, "wd", 1e-4, "weight decay on every parameter (the degradation study's)")
	fs.Int64Var(&s.Seed, "seed", 1, "seed of the weights, the shuffling and the augmentation")
	fs.StringVar(&s.out, "out", filepath.Join("runs", "lockstep"), "output directory (the committed results: -out experiments/lockstep/results -overwrite)")
	fs.StringVar(&s.work, "work", "", "directory of the exchange files (weights, batches), kept; default a temporary directory, removed")
	fs.StringVar(&s.python, "python", "/usr/bin/python3", "Python interpreter with torch")
	fs.StringVar(&s.script, "script", defaultScript(), "the PyTorch side")
	fs.IntVar(&s.threads, "threads", 2, "PyTorch threads")
	fs.IntVar(&s.workers, "workers", 0, "goroutines the Go ops use (0: GOMAXPROCS)")
	fs.BoolVar(&s.control, "control", false, "also train Go from the initial weights moved by -nudge ulps, on the same batches: how fast this net amplifies a rounding-size difference, the yardstick of the verdict")
	fs.IntVar(&s.nudge, "nudge", 1, "ulps the control moves each nonzero weight up by (about 100 start it as far from Go as PyTorch is in float64)")
	fs.BoolVar(&s.overwrite, "overwrite", false, "replace the results already in -out")
	fs.BoolVar(&s.replot, "replot", false, "only redraw -out's figure and summary.md from its CSV files")
	fs.BoolVar(&s.quick, "quick", false, "seconds, for CI: -model resnet8 -data builtin -batch 16 -steps 6 -warmup 2 -dtype float32,float64 -control (flags given explicitly win)")
	if err := fs.ParseNoArgs(args, stdout); err != nil {
		return s, err
	}
	if s.quick {
		if err := fs.Preset(map[string]string{"model": "resnet8", "data": "builtin", "batch": "16", "steps": "6",
			"warmup": "2", "dtype": "float32,float64", "control": "true"}); err != nil {
			return s, err
		}
	}
	if s.Steps64 == 0 {
		s.Steps64 = s.Steps
	}
	for _, d := range strings.Split(dtypes, ",") {
		d = strings.TrimSpace(d)
		if d != "float32" && d != "float64" {
			return s, cli.Usagef("-dtype %q: want float32, float64 or float32,float64", dtypes)
		}
		s.Dtypes = append(s.Dtypes, d)
	}
	if _, err := resnet.ByName(s.Model, 10, 1); err != nil || !(strings.HasPrefix(s.Model, "resnet") || strings.HasPrefix(s.Model, "plain")) {
		return s, cli.Usagef("-model %q: want a CIFAR-style net resnetD or plainD, D = 6n+2", s.Model)
	}
	switch {
	case s.Steps < 1 || s.Steps64 < 1:
		return s, cli.Usagef("-steps %d, -steps64 %d: want at least 1", s.Steps, s.Steps64)
	case s.Batch < 2:
		return s, cli.Usagef("-batch %d: want at least 2 (BatchNorm)", s.Batch)
	case !(s.LR > 0):
		return s, cli.Usagef("-lr %g: want a positive rate", s.LR)
	case s.Warmup < 0:
		return s, cli.Usagef("-warmup %d: want 0 or more", s.Warmup)
	case s.Momentum < 0 || s.WD < 0:
		return s, cli.Usagef("-momentum %g, -wd %g: want 0 or more", s.Momentum, s.WD)
	case s.nudge < 1:
		return s, cli.Usagef("-nudge %d: want at least 1 ulp", s.nudge)
	case s.threads < 1:
		return s, cli.Usagef("-threads %d: want at least 1", s.threads)
	}
	return s, nil
}

func run(args []string, stdout io.Writer) error {
	s, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	if s.replot {
		return replot(s.out)
	}
	if err := cli.CheckResultsDir(s.out, summaryFile, s.quick, s.overwrite); err != nil {
		return err
	}
	// The new rows are merged with these once both sides have run: read them now, so that a
	// file this program cannot merge stops it before the training, not after.
	if _, err := readOld(s.out, nil); err != nil {
		return fmt.Errorf("the results already in %s: %w", s.out, err)
	}
	if err := checkPython(s); err != nil {
		return err
	}
	work := s.work
	if work == "" {
		if work, err = os.MkdirTemp("", "lockstep-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	if err := os.MkdirAll(s.out, 0o755); err != nil {
		return err
	}
	var runs []dtypeRun
	for _, dt := range s.Dtypes {
		dir := filepath.Join(work, dt)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		r, err := lockstep(s, dt, dir, stdout)
		if err != nil {
			return fmt.Errorf("%s: %w", dt, err)
		}
		runs = append(runs, r)
	}
	return writeResults(s, runs, stdout)
}
