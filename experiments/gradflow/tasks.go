package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/runlog"
)

// task is one net of the study: what -task measures and OUT/tasks/MODEL.json holds.
type task struct {
	Index int
	Model string
	Depth int
	Plain bool
}

// tasks are the study's nets in the order of its results: for each depth, plain then ResNet.
func (s settings) tasks() []task {
	var ts []task
	for _, d := range s.Depths {
		for _, plain := range []bool{true, false} {
			model := fmt.Sprintf("resnet%d", d)
			if plain {
				model = fmt.Sprintf("plain%d", d)
			}
			ts = append(ts, task{Index: len(ts), Model: model, Depth: d, Plain: plain})
		}
	}
	return ts
}

const (
	settingsFile = "settings.json"
	tasksDir     = "tasks"
)

// settingsDoc is settings.json: the study's settings, recorded by its first task so that later
// calls cannot mix in nets measured otherwise, and the machine, which the results add.
type settingsDoc struct {
	Settings settings `json:"settings"`
	Machine  string   `json:"machine,omitempty"`
}

// checkSettings refuses a call whose settings differ from those recorded in OUT/settings.json,
// and records them there when there are none yet and record is set.
func checkSettings(s settings, record bool) error {
	path := filepath.Join(s.Out, settingsFile)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && record:
		if err := os.MkdirAll(s.Out, 0o755); err != nil {
			return err
		}
		js, _ := json.MarshalIndent(settingsDoc{Settings: s}, "", "  ")
		return runlog.WriteFileAtomic(path, append(js, '\n'))
	case errors.Is(err, fs.ErrNotExist):
		return nil // -gather checks each task's own record
	case err != nil:
		return err
	}
	var doc settingsDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if d := s.diff(doc.Settings); d != "" {
		return fmt.Errorf("%s records a study with other settings (%s); give its flags, or choose another -out", path, d)
	}
	return nil
}

// diff names the flags whose values differ from those of was, the recorded settings: "-seed 1
// there, 2 now"; "" when none do. Only the fields settings.json holds count (not -workers).
func (s settings) diff(was settings) string {
	var d []string
	add := func(flag string, there, now any) {
		if !reflect.DeepEqual(there, now) {
			d = append(d, fmt.Sprintf("-%s %v there, %v now", flag, there, now))
		}
	}
	depths := func(ds []int) string {
		var f []string
		for _, v := range ds {
			f = append(f, strconv.Itoa(v))
		}
		return strings.Join(f, ",")
	}
	add("data", was.Data, s.Data)
	add("data-dir", strconv.Quote(was.DataDir), strconv.Quote(s.DataDir))
	add("depths", depths(was.Depths), depths(s.Depths))
	add("steps", was.Steps, s.Steps)
	add("warmup", was.Warmup, s.Warmup)
	add("batch", was.Batch, s.Batch)
	add("lr", was.LR, s.LR)
	add("wd", was.WD, s.WD)
	add("seed", was.Seed, s.Seed)
	return strings.Join(d, ", ")
}

// taskFile is OUT/tasks/MODEL.json: one net's measurements, with the settings and the machine
// they were taken with.
type taskFile struct {
	Settings settings  `json:"settings"`
	Machine  string    `json:"machine"`
	Model    string    `json:"model"`
	Depth    int       `json:"depth"`
	Plain    bool      `json:"plain"`
	Params   int       `json:"params"`
	Seconds  float64   `json:"seconds"`
	Diverged int       `json:"diverged_at_step"`
	Losses   []num     `json:"losses"`
	Rows     []taskRow `json:"rows"`
}

// taskRow is a row of gradflow.csv.
type taskRow struct {
	Phase string `json:"phase"`
	Mode  string `json:"bn_mode"`
	Step  int    `json:"step"`
	Kind  string `json:"kind"`
	Layer string `json:"layer"`
	Index int    `json:"index"`
	Value num    `json:"value"`
}

// num is a float64 that JSON carries exactly, and as a string when not finite (a diverged net's
// loss), which JSON numbers cannot express.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	v := float64(n)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte(`"` + strconv.FormatFloat(v, 'g', -1, 64) + `"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

func (n *num) UnmarshalJSON(b []byte) error {
	s := string(b)
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	v, err := strconv.ParseFloat(s, 64)
	*n = num(v)
	return err
}

func taskPath(out string, t task) string { return filepath.Join(out, tasksDir, t.Model+".json") }

// writeTask writes a measured net atomically: a task file is there whole or not at all.
func writeTask(s settings, t task, r netResult) error {
	f := taskFile{Settings: s, Machine: machine(), Model: r.Model, Depth: r.Depth, Plain: r.Plain, Params: r.Params,
		Seconds: r.Seconds, Diverged: r.Diverged}
	for _, l := range r.Losses {
		f.Losses = append(f.Losses, num(l))
	}
	for _, x := range r.Rows {
		f.Rows = append(f.Rows, taskRow{Phase: x.Phase, Mode: x.Mode, Step: x.Step, Kind: x.Kind, Layer: x.Layer,
			Index: x.Depth, Value: num(x.Value)})
	}
	js, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("task %d %s: %w", t.Index, t.Model, err)
	}
	path := taskPath(s.Out, t)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return runlog.WriteFileAtomic(path, append(js, '\n'))
}

// readTask reads the net of task t measured with settings s; an error wrapping fs.ErrNotExist
// when it has not been measured.
func readTask(s settings, t task) (netResult, string, error) {
	path := taskPath(s.Out, t)
	b, err := os.ReadFile(path)
	if err != nil {
		return netResult{}, "", err
	}
	var f taskFile
	if err := json.Unmarshal(b, &f); err != nil {
		return netResult{}, "", fmt.Errorf("%s: %w", path, err)
	}
	if d := s.diff(f.Settings); d != "" {
		return netResult{}, "", fmt.Errorf("%s was measured with other settings (%s); give its flags, or choose another -out", path, d)
	}
	if f.Model != t.Model || len(f.Losses) == 0 {
		return netResult{}, "", fmt.Errorf("%s: not the measurements of %s", path, t.Model)
	}
	r := netResult{Model: f.Model, Depth: f.Depth, Plain: f.Plain, Params: f.Params, Seconds: f.Seconds, Diverged: f.Diverged}
	for _, l := range f.Losses {
		r.Losses = append(r.Losses, float64(l))
	}
	for _, x := range f.Rows {
		r.Rows = append(r.Rows, row{Phase: x.Phase, Mode: x.Mode, ProbeRow: train.ProbeRow{Step: x.Step, Kind: x.Kind,
			Layer: x.Layer, Depth: x.Index, Value: float64(x.Value)}})
	}
	return r, f.Machine, nil
}

// runTasks measures the nets of the tasks given that are not measured yet, each into its task
// file. The data is opened once, and only if a net needs it.
func runTasks(s settings, ts []task, stdout io.Writer) error {
	var b *bench
	for _, t := range ts {
		_, _, err := readTask(s, t)
		if err == nil {
			fmt.Fprintf(stdout, "task %d %s: already measured in %s; not recomputed\n", t.Index, t.Model, taskPath(s.Out, t))
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if b == nil {
			if b, err = newBench(s, stdout); err != nil {
				return err
			}
		}
		r, err := b.measure(s, t, stdout)
		if err != nil {
			return err
		}
		if err := writeTask(s, t, r); err != nil {
			return err
		}
	}
	return nil
}

// gather writes the results from the task files; every task must have been measured.
func gather(s settings, stdout io.Writer) error {
	var (
		results  []netResult
		machines []string
		missing  []string
	)
	ts := s.tasks()
	for _, t := range ts {
		r, m, err := readTask(s, t)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, fmt.Sprintf("%s (-task %d)", t.Model, t.Index))
			continue
		case err != nil:
			return err
		}
		results = append(results, r)
		if !slices.Contains(machines, m) {
			machines = append(machines, m)
		}
	}
	if missing != nil {
		return fmt.Errorf("-gather: %d of %d tasks are not measured in %s: %s", len(missing), len(ts),
			filepath.Join(s.Out, tasksDir), strings.Join(missing, ", "))
	}
	// Tasks measured on several machines name them all.
	if err := writeResults(s, results, strings.Join(machines, "; ")); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "results in %s: gradflow.csv, ratios.csv, summary.md, settings.json, input-grad.png, weight-grad.png, response-std.png\n", s.Out)
	return nil
}
