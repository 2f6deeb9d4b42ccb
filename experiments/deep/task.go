package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/resnet-go/resnet/graph/ops"
	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/runlog"
)

// Status is how a task ended, written to its run directory (status.json) by either side.
type Status struct {
	Status  string `json:"status"` // done (the whole schedule), stopped (after Study.StopAfter) or diverged
	Message string `json:"message,omitempty"`
	Epochs  int    `json:"epochs"` // epochs recorded
}

const statusFile = "status.json"

// readStatus returns the status of a finished task, or ok false when it has not finished.
func readStatus(dir string) (st Status, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, statusFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, false, nil
	}
	if err != nil {
		return st, false, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, false, fmt.Errorf("%s: %w", filepath.Join(dir, statusFile), err)
	}
	switch st.Status {
	case "done", "stopped", "diverged":
		return st, true, nil
	}
	return st, false, fmt.Errorf("%s: unknown status %q", filepath.Join(dir, statusFile), st.Status)
}

// peer is how the PyTorch side is started.
type peer struct {
	python, script string
}

// runTask trains task t of study s into out/runs/NAME, continuing it when an earlier call was
// interrupted; a finished task is left as it is. Its progress goes to w.
func runTask(ctx context.Context, s Study, out string, t Task, p peer, w io.Writer) error {
	dir := filepath.Join(out, "runs", t.Name())
	if st, ok, err := readStatus(dir); err != nil || ok {
		if ok {
			fmt.Fprintf(w, "task %d %s: already finished (%s)\n", t.Index, t.Name(), st.Status)
		}
		return err
	}
	cfg := s.Config(t.Model, t.Recipe, t.Seed)
	if t.Side == sideTorch {
		return runPeer(ctx, s, cfg, dir, p, w)
	}
	ops.SetWorkers(1) // one core per task: tasks run side by side
	_, statErr := os.Stat(filepath.Join(dir, train.CheckpointFile))
	res, err := train.Run(ctx, cfg, train.Options{Dir: dir, Resume: statErr == nil, StopAfter: s.StopAfter, Out: w})
	st := Status{Status: "done"}
	switch {
	case errors.Is(err, train.ErrDiverged):
		recs, rerr := runlog.ReadRecords(filepath.Join(dir, train.MetricsFile))
		if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return rerr
		}
		st = Status{Status: "diverged", Message: err.Error(), Epochs: len(recs)}
	case err != nil:
		return err
	default:
		st.Epochs = len(res.Records)
		if st.Epochs < cfg.Epochs {
			st.Status = "stopped"
		}
	}
	return writeStatus(dir, st)
}

func writeStatus(dir string, st Status) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return runlog.WriteFileAtomic(filepath.Join(dir, statusFile), append(b, '\n'))
}

// runPeer trains the same configuration with the PyTorch peer (peer.py), which reads it from
// dir/config.json and writes the same records and status.
func runPeer(ctx context.Context, s Study, cfg train.Config, dir string, p peer, w io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, "config.json")
	if b, err := os.ReadFile(path); err == nil {
		var was train.Config
		if err := json.Unmarshal(b, &was); err != nil || !reflect.DeepEqual(was, cfg) {
			return fmt.Errorf("%s holds another run's settings", path)
		}
	} else {
		js, _ := json.MarshalIndent(cfg, "", "  ")
		if err := runlog.WriteFileAtomic(path, append(js, '\n')); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, p.python, p.script, "-config", path, "-dir", dir,
		"-stop-after", strconv.Itoa(s.StopAfter), "-threads", "1")
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("PyTorch peer (%s %s): %w", p.python, p.script, err)
	}
	if _, ok, err := readStatus(dir); err != nil || !ok {
		return fmt.Errorf("PyTorch peer left no status in %s (%v)", dir, err)
	}
	return nil
}

// runAll runs every unfinished task, jobs at a time, each in its own process (this program with
// -task), its output in out/logs/NAME.log. It reports each task as it ends and returns the first
// failure after all have run.
func runAll(ctx context.Context, s Study, out string, jobs int, extra []string, w io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(out, "logs"), 0o755); err != nil {
		return err
	}
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	slots := make(chan struct{}, jobs)
	for _, t := range s.Tasks() {
		if _, ok, err := readStatus(filepath.Join(out, "runs", t.Name())); err != nil || ok {
			if err != nil {
				return err
			}
			continue
		}
		slots <- struct{}{}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(t Task) {
			defer func() { <-slots; wg.Done() }()
			err := runChild(ctx, self, out, t, extra)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fmt.Fprintf(w, "task %d %s: %v\n", t.Index, t.Name(), err)
				if first == nil {
					first = err
				}
				return
			}
			st, _, _ := readStatus(filepath.Join(out, "runs", t.Name()))
			fmt.Fprintf(w, "task %d %s: %s after %d epochs\n", t.Index, t.Name(), st.Status, st.Epochs)
		}(t)
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

func runChild(ctx context.Context, self, out string, t Task, extra []string) error {
	log, err := os.OpenFile(filepath.Join(out, "logs", t.Name()+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	args := append([]string{"-out", out, "-task", strconv.Itoa(t.Index)}, extra...)
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// A stopped study stops its tasks as a signal stops this program: each keeps its last epoch.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = time.Minute
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w (log: %s)", err, log.Name())
	}
	return nil
}
