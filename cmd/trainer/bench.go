package main

import (
	"fmt"
	"io"
	"math/rand"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/graph/ops"
	"github.com/resnet-go/resnet/train"
)

func bench(args []string, stdout io.Writer) error {
	fs := cli.NewFlagSet("bench", "trainer bench [flags]")
	var mf modelFlags
	mf.register(fs, "resnet20")
	batch := fs.Int("batch", 128, "batch size (overrides N of -input)")
	steps := fs.Int("steps", 20, "timed steps")
	warmup := fs.Int("warmup", 2, "untimed steps first")
	infer := fs.Bool("infer", false, "time inference (evaluation mode, forward only) instead of training")
	workers := fs.Int("workers", 0, "goroutines the ops split work across (0: GOMAXPROCS)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the timed steps to this file")
	if err := fs.ParseNoArgs(args, stdout); err != nil {
		return err
	}
	switch {
	case *batch < 1:
		return cli.UsageError{Err: fmt.Errorf("-batch %d: must be at least 1", *batch)}
	case *steps < 1:
		return cli.UsageError{Err: fmt.Errorf("-steps %d: must be at least 1", *steps)}
	case *warmup < 0:
		return cli.UsageError{Err: fmt.Errorf("-warmup %d: must not be negative", *warmup)}
	case *workers < 0:
		return cli.UsageError{Err: fmt.Errorf("-workers %d: must not be negative", *workers)}
	}
	spec, shape, dt, err := mf.resolve()
	if err != nil {
		return err
	}
	shape[0] = *batch
	if *workers > 0 {
		ops.SetWorkers(*workers)
	}
	p, err := graph.NewParams(dt, mf.seed)
	if err != nil {
		return err
	}
	x := randomInput(dt, shape, mf.seed)
	rng := rand.New(rand.NewSource(mf.seed))
	labels := make([]int, shape[0])
	for i := range labels {
		labels[i] = rng.Intn(spec.Classes)
	}

	var step func() error
	var plan ops.MemoryPlan
	what := "train step (forward, backward, SGD update)"
	if *infer {
		what = "inference (eval mode, forward)"
		e, err := train.NewEvaluator(spec, p, shape[0], shape[2], shape[3])
		if err != nil {
			return err
		}
		defer e.Close()
		plan = e.Memory
		step = func() error { _, err := e.Logits(x); return err }
	} else {
		// The PyTorch peer's settings (../shared/peers/pytorch_bench.py).
		opt, err := train.NewSGD(train.SGDConfig{LR: 0.1, Momentum: 0.9, WeightDecay: 1e-4})
		if err != nil {
			return err
		}
		t, err := train.NewTrainer(spec, p, graph.Config{}, shape[0], shape[2], shape[3], opt)
		if err != nil {
			return err
		}
		defer t.Close()
		plan = t.Memory
		step = func() error { _, err := t.Step(x, labels); return err }
	}

	blas := ops.BLAS()
	if core := ops.BLASCore(); core != "" {
		blas += " (" + core + " kernels)"
	}
	fmt.Fprintf(stdout, "bench: %s %s, batch %d, input %dx%dx%d, %v, blas %s, workers %d\n",
		spec.Name, what, shape[0], shape[1], shape[2], shape[3], dt, blas, ops.Workers())
	for i := 0; i < *warmup; i++ {
		if err := step(); err != nil {
			return err
		}
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	times := make([]float64, *steps)
	for i := range times {
		start := time.Now()
		if err := step(); err != nil {
			return err
		}
		times[i] = float64(time.Since(start).Microseconds()) / 1000
	}
	runtime.ReadMemStats(&after)
	slices.Sort(times)
	med := median(times)
	fmt.Fprintf(stdout, "median: %.1f ms/step (min %.1f, max %.1f, %d steps)\n", med, times[0], times[len(times)-1], len(times))
	fmt.Fprintf(stdout, "throughput: %.1f img/s\n", float64(shape[0])/med*1000)
	fmt.Fprintf(stdout, "allocated: %.1f MB/step\n", float64(after.TotalAlloc-before.TotalAlloc)/float64(len(times))/1e6)
	fmt.Fprintf(stdout, "op outputs: %v\n", plan)
	if rss, ok := peakRSS(); ok {
		fmt.Fprintf(stdout, "peak RSS: %.0f MB\n", rss/1e6)
	}
	return nil
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// peakRSS is the process's maximum resident set size in bytes (Linux reports KiB).
func peakRSS() (float64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return float64(ru.Maxrss) * 1024, true
}
