// Command deep runs the deep-ResNet studies: grids of training runs (models × recipes × seeds),
// each trained by this project and by its PyTorch peer (peer.py) with the same settings, and the
// tables that compare them: does this project train deep nets as PyTorch does, seed for seed,
// and which recipe makes ResNet-56 and ResNet-110 train stably?
//
//	go run ./experiments/deep -models resnet56 -seeds 1-10 -epochs 8 -stop-after 2 -out runs/deep/seeds
//	go run ./experiments/deep -quick -out build/deep     # seconds
//
// A study is a directory: OUT/study.json (the grid, written by the first call), OUT/runs/TASK (one
// resumable run per task; the PyTorch ones hold the same metrics.jsonl), OUT/logs, and the
// results (-results, default OUT/results). The grid's tasks can run in one call (-jobs processes
// at a time, one core each), or one per call (-task i, as a scheduler's array job does; -list
// shows them; -task array takes the index Slurm or Kubernetes gives the process), and -gather
// then writes the results from whatever has finished. A finished task is never run again, an
// interrupted one continues from its last epoch, and a call with other grid settings than the
// directory's is refused. -kubernetes writes the Indexed Job that runs the tasks on a cluster and
// the Job that gathers them; experiments/cluster/slurm holds the Slurm batch scripts.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }

// options are the flags that are not the study's grid.
type options struct {
	out, results string
	list, gather bool
	task, jobs   int
	quick        bool
	overwrite    bool
	peer         peer
	kube         kube
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	s, o, explicit, err := parseFlags(args, stdout)
	if err == nil {
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		err = study(ctx, s, o, explicit, stdout)
	}
	return cli.Status("deep", cli.Flagged(err), stderr)
}

func study(ctx context.Context, s Study, o options, explicit bool, stdout io.Writer) error {
	if o.gather || o.task < 0 && !o.list {
		if err := cli.CheckResultsFlag("-results", o.results, summaryFile, o.quick, o.overwrite); err != nil {
			return err
		}
	}
	// A task, a gathering or a listing never defines a study by default values: a scheduler's job that
	// lost its flags would otherwise start another grid.
	create := explicit || o.task < 0 && !o.gather && !o.list
	if o.kube.dir != "" { // the study is made on the cluster's volume, not here
		if rec, err := openStudy(o.out, s, explicit, false); err == nil {
			s = rec
		} else if err := s.Validate(); err != nil {
			return cli.UsageError{Err: err}
		}
		msg, err := writeManifests(s, o)
		fmt.Fprint(stdout, msg)
		return err
	}
	s, err := openStudy(o.out, s, explicit, create)
	if err != nil {
		return cli.UsageError{Err: err}
	}
	tasks := s.Tasks()
	switch {
	case o.list:
		for _, t := range tasks {
			fmt.Fprintf(stdout, "%d\t%s\n", t.Index, t.Name())
		}
		return nil
	case o.task >= 0:
		if o.task >= len(tasks) {
			return cli.Usagef("-task %d: the study has tasks 0 to %d", o.task, len(tasks)-1)
		}
		return runTask(ctx, s, o.out, tasks[o.task], o.peer, stdout)
	case !o.gather:
		extra := []string{"-python", o.peer.python, "-peer", o.peer.script}
		if err := runAll(ctx, s, o.out, o.jobs, extra, stdout); err != nil {
			return err
		}
	}
	return gather(s, o.out, o.results, stdout)
}

func parseFlags(args []string, stdout io.Writer) (Study, options, bool, error) {
	s := Study{}
	o := options{}
	var models, recipeList, seeds, sides, taskFlag string
	fs := cli.NewFlagSet("deep", "go run ./experiments/deep [flags]")
	fs.StringVar(&models, "models", "resnet56", "comma-separated models (resnet56, plain110, …)")
	fs.StringVar(&recipeList, "recipes", "base", "comma-separated recipes: "+strings.Join(recipeNames(), ", "))
	fs.StringVar(&seeds, "seeds", "1-4", "seeds: a list (1,2,5) or a range (1-10)")
	fs.StringVar(&sides, "sides", "go,torch", "go (this project), torch (the PyTorch peer) or both")
	fs.StringVar(&s.Data, "data", "fashion-mnist", "data set (the peer reads fashion-mnist only)")
	fs.StringVar(&s.DataDir, "data-dir", "", "directory of the data set's files")
	fs.IntVar(&s.TrainLimit, "train-limit", 5000, "the first n training images (0: all)")
	fs.IntVar(&s.TestLimit, "test-limit", 1000, "the first n test images (0: all)")
	fs.IntVar(&s.Batch, "batch", 128, "training batch size")
	fs.IntVar(&s.Epochs, "epochs", 8, "epochs of the schedule (lr ÷10 at 50% and 75%)")
	fs.IntVar(&s.StopAfter, "stop-after", 0, "run only the first n epochs of the schedule (0: all)")
	fs.StringVar(&o.out, "out", filepath.Join("runs", "deep"), "the study's directory")
	fs.StringVar(&o.results, "results", "", "where -gather writes tables and figures (default OUT/results)")
	fs.BoolVar(&o.list, "list", false, "list the tasks and exit")
	fs.StringVar(&taskFlag, "task", "", "run task i only (see -list); array: the index of this process in a Slurm or Kubernetes array job")
	fs.IntVar(&o.jobs, "jobs", 2, "tasks run at once, one core each")
	fs.BoolVar(&o.gather, "gather", false, "only write the results of the finished tasks")
	fs.BoolVar(&o.overwrite, "overwrite", false, "replace results already in -results")
	fs.BoolVar(&o.quick, "quick", false, "seconds, for CI: -models resnet8 -seeds 1-2 -train-limit 512 -test-limit 256 -batch 64 -epochs 2")
	fs.StringVar(&o.peer.python, "python", "/usr/bin/python3", "the Python with torch that runs the peer")
	fs.StringVar(&o.peer.script, "peer", filepath.Join("experiments", "deep", "peer.py"), "the peer's script")
	fs.StringVar(&o.kube.dir, "kubernetes", "", "write the Kubernetes Jobs that run the study (an Indexed Job) and gather it into this directory, and exit")
	fs.StringVar(&o.kube.image, "image", "", "with -kubernetes: the container image (this program as deep on its PATH, run from the repository's root)")
	fs.StringVar(&o.kube.claim, "claim", "", "with -kubernetes: the PersistentVolumeClaim every pod mounts (the study's directory lives there)")
	fs.StringVar(&o.kube.mount, "mount", "/studies", "with -kubernetes: where the pods mount the claim")
	fs.IntVar(&o.kube.parallelism, "parallelism", 8, "with -kubernetes: tasks run at once")
	if err := fs.ParseNoArgs(args, stdout); err != nil {
		return s, o, false, err
	}
	if o.quick {
		if err := fs.Preset(map[string]string{"models": "resnet8", "seeds": "1-2", "train-limit": "512",
			"test-limit": "256", "batch": "64", "epochs": "2"}); err != nil {
			return s, o, false, err
		}
	}
	explicit := false
	for _, f := range []string{"models", "recipes", "seeds", "sides", "data", "data-dir", "train-limit", "test-limit", "batch", "epochs", "stop-after", "quick"} {
		explicit = explicit || fs.Given(f)
	}
	s.Models, s.Recipes, s.Sides = list(models), list(recipeList), list(sides)
	var err error
	if s.Seeds, err = parseSeeds(seeds); err != nil {
		return s, o, false, cli.UsageError{Err: err}
	}
	if o.task, err = cli.TaskIndex(taskFlag); err != nil {
		return s, o, false, err
	}
	switch {
	case o.jobs < 1:
		err = fmt.Errorf("-jobs %d: want at least 1", o.jobs)
	case o.out == "":
		err = fmt.Errorf("-out is empty")
	case (o.list || o.kube.dir != "") && (o.gather || o.task >= 0):
		err = fmt.Errorf("-list and -kubernetes run nothing; drop -gather and -task")
	case o.gather && o.task >= 0:
		err = fmt.Errorf("-gather and -task: choose one")
	}
	if err != nil {
		return s, o, false, cli.UsageError{Err: err}
	}
	if o.results == "" {
		o.results = filepath.Join(o.out, "results")
	}
	return s, o, explicit, nil
}

func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseSeeds reads "1,2,5" or "1-10" (or both: "1-3,7").
func parseSeeds(spec string) ([]int64, error) {
	var seeds []int64
	for _, f := range list(spec) {
		lo, hi, isRange := strings.Cut(f, "-")
		a, err1 := strconv.ParseInt(lo, 10, 64)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.ParseInt(hi, 10, 64)
		}
		if err := errors.Join(err1, err2); err != nil || b < a || b-a > 10_000 {
			return nil, fmt.Errorf("-seeds %q: %q is not a seed or a range lo-hi", spec, f)
		}
		for v := a; v <= b; v++ {
			seeds = append(seeds, v)
		}
	}
	if len(seeds) == 0 {
		return nil, fmt.Errorf("-seeds %q: no seed", spec)
	}
	return seeds, nil
}
