package main

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
)

// peerScript is the PyTorch peer: the same nets as this project builds (option-A shortcuts in the
// CIFAR nets, torchvision's ImageNet nets, the pre-activation nets), so that the ratios are like
// for like.
//
//go:embed peer/pytorch_bench.py
var peerScript []byte

// compare runs "trainer bench" and the PyTorch peer on the same workloads, alternating them
// round by round so that both see the same machine load, and prints the median throughputs and
// their ratio. Each run is its own process, so peak RSS and warm-up are not shared.
func compare(args []string, stdout io.Writer) error {
	fs := cli.NewFlagSet("compare", "trainer compare [flags]")
	workloads := fs.String("workloads", "resnet20:128,resnet56:128,plain20:128,resnet18:16,resnet18-infer:16,resnet18-infer:1,resnet50-infer:8",
		"comma-separated MODEL:BATCH; a -infer suffix times inference")
	rounds := fs.Int("rounds", 3, "alternating rounds per workload")
	steps := fs.Int("steps", 10, "timed steps per run")
	peer := fs.String("peer", "", "the PyTorch peer script (default: the project's own, built into this binary)")
	python := fs.String("python", "/usr/bin/python3", "interpreter that has torch")
	threads := fs.Int("threads", 2, "threads on each side: PyTorch's threads and this project's op workers")
	if err := fs.ParseNoArgs(args, stdout); err != nil {
		return err
	}
	if *rounds < 1 || *steps < 1 || *threads < 1 {
		return cli.UsageError{Err: fmt.Errorf("-rounds %d, -steps %d and -threads %d must be at least 1", *rounds, *steps, *threads)}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if *peer == "" {
		dir, err := os.MkdirTemp("", "trainer-compare-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*peer = filepath.Join(dir, "pytorch_bench.py")
		if err := os.WriteFile(*peer, peerScript, 0o644); err != nil {
			return err
		}
	}
	type workload struct {
		name  string
		model string
		infer bool
		batch int
	}
	var ws []workload
	for _, w := range strings.Split(*workloads, ",") {
		name, bs, ok := strings.Cut(strings.TrimSpace(w), ":")
		batch, err := strconv.Atoi(bs)
		if !ok || err != nil || batch < 1 {
			return cli.UsageError{Err: fmt.Errorf("-workloads: %q is not MODEL:BATCH", w)}
		}
		model, infer := strings.CutSuffix(name, "-infer")
		ws = append(ws, workload{name, model, infer, batch})
	}
	havePeer := peerAvailable(*python, *peer)
	if !havePeer {
		fmt.Fprintf(stdout, "PyTorch peer unavailable (%s with torch, and %s); measuring this project only\n", *python, *peer)
	}

	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\tbatch\tgo img/s\tpytorch img/s\tgo/pytorch\tgo MB\tpytorch MB\tgo runs\tpytorch runs")
	for _, w := range ws {
		var ours, theirs, ourRSS, theirRSS []float64
		for r := 0; r < *rounds; r++ {
			a := []string{"bench", "-model", w.model, "-batch", fmt.Sprint(w.batch), "-steps", fmt.Sprint(*steps), "-workers", fmt.Sprint(*threads)}
			if w.infer {
				a = append(a, "-infer")
			}
			v, rss, err := measure(self, a, `throughput: ([0-9.]+) img/s`)
			if err != nil {
				return fmt.Errorf("%s: %w", w.name, err)
			}
			ours, ourRSS = append(ours, v), append(ourRSS, rss)
			if havePeer {
				v, rss, err := measure(*python, []string{*peer, w.name, fmt.Sprint(w.batch), fmt.Sprint(*threads), fmt.Sprint(*steps)}, ` ([0-9.]+) img/s`)
				if err != nil {
					return fmt.Errorf("%s: PyTorch peer: %w", w.name, err)
				}
				theirs, theirRSS = append(theirs, v), append(theirRSS, rss)
			}
		}
		mo, mt, ratio, rt := medianOf(ours), "-", "-", "-"
		if havePeer {
			t := medianOf(theirs)
			mt, ratio, rt = fmt.Sprintf("%.1f", t), fmt.Sprintf("%.2f", mo/t), fmt.Sprintf("%.0f", medianOf(theirRSS))
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%s\t%s\t%.0f\t%s\t%v\t%v\n", w.name, w.batch, mo, mt, ratio, medianOf(ourRSS), rt, ours, theirs)
		if err := tw.Flush(); err != nil { // print each row as it is measured
			return err
		}
	}
	return nil
}

func peerAvailable(python, script string) bool {
	if _, err := os.Stat(script); err != nil {
		return false
	}
	return exec.Command(python, "-c", "import torch, torchvision").Run() == nil
}

// measure runs a command and returns the number captured by pattern in its output and the
// process's peak RSS in MB (the same measure for both peers).
func measure(cmd string, args []string, pattern string) (float64, float64, error) {
	var out bytes.Buffer
	c := exec.Command(cmd, args...)
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		return 0, 0, fmt.Errorf("%s %s: %w: %s", cmd, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	m := regexp.MustCompile(pattern).FindStringSubmatch(out.String())
	if m == nil {
		return 0, 0, fmt.Errorf("%s %s: no throughput in output %q", cmd, strings.Join(args, " "), out.String())
	}
	v, err := strconv.ParseFloat(m[1], 64)
	var rss float64
	if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = float64(ru.Maxrss) * 1024 / 1e6 // Linux reports KiB
	}
	return v, rss, err
}

func medianOf(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return median(s)
}
