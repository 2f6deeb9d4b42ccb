package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/resnet-go/resnet/resnet"
	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/runlog"
)

// Study is a grid of training runs: every model × recipe × seed, on each side (this project, or
// its PyTorch peer). It is written to OUT/study.json by the first call, so that later calls (one
// task each, from a scheduler, or the gathering of results) work on exactly the same grid.
type Study struct {
	Models  []string `json:"models"`
	Recipes []string `json:"recipes"`
	Seeds   []int64  `json:"seeds"`
	Sides   []string `json:"sides"`

	Data       string `json:"data"`
	DataDir    string `json:"data_dir,omitempty"`
	TrainLimit int    `json:"train_limit"`
	TestLimit  int    `json:"test_limit"`
	Batch      int    `json:"batch"`
	// Epochs is the schedule's length; StopAfter > 0 runs only its first epochs (the seeds
	// study: the first 2 of the 8-epoch schedule).
	Epochs    int `json:"epochs"`
	StopAfter int `json:"stop_after,omitempty"`
}

const studyFile = "study.json"

// Sides of a task.
const (
	sideGo    = "go"
	sideTorch = "torch"
)

// recipes are the training recipes a study compares; each is the paper's CIFAR recipe (Sec. 4.2,
// as the degradation study trains it) with one change.
var recipes = map[string]struct {
	about string
	apply func(*train.Config)
}{
	"base": {"the degradation study's: linear warm-up to lr 0.1 over the first epoch",
		func(*train.Config) {}},
	"paper": {"the paper's for ResNet-110: lr 0.01 until the training error of the last 10 batches is below 80% (at most one epoch), then 0.1",
		func(c *train.Config) { c.WarmupLR, c.WarmupUntilErr = 0.01, 0.8 }},
	"warmup3": {"a longer linear warm-up, over the first 3 epochs",
		func(c *train.Config) { c.WarmupEpochs = 3 }},
	"zeroinit": {"the base recipe with each residual branch's last BN starting at γ = 0 (ZeroInitResidual)",
		func(c *train.Config) { c.ZeroInitResidual = true }},
}

// recipeNames lists the recipes in a stable order, for messages.
func recipeNames() []string {
	var names []string
	for n := range recipes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Config is the training configuration of one run of the study.
func (s Study) Config(model, recipe string, seed int64) train.Config {
	c := train.DefaultConfig()
	c.Model, c.Data, c.DataDir, c.Val = model, s.Data, s.DataDir, 0
	c.TrainLimit, c.TestLimit = s.TrainLimit, s.TestLimit
	c.Epochs, c.Batch = s.Epochs, s.Batch
	c.LR, c.Schedule, c.Milestones, c.Gamma = 0.1, "step", []float64{0.5, 0.75}, 0.1
	c.WarmupEpochs = 1
	c.Momentum, c.Nesterov = 0.9, false
	c.WeightDecay, c.NoDecay1D = 1e-4, false
	c.Pad, c.Flip, c.Normalize = 4, true, true
	c.Seed, c.Dtype = seed, "float32"
	recipes[recipe].apply(&c)
	return c
}

// Flags are the command-line flags that define the study, for the commands of a scheduler's
// jobs: a task given them creates the study or checks that it is this one.
func (s Study) Flags() []string {
	seeds := make([]string, len(s.Seeds))
	for i, v := range s.Seeds {
		seeds[i] = strconv.FormatInt(v, 10)
	}
	f := []string{"-models", strings.Join(s.Models, ","), "-recipes", strings.Join(s.Recipes, ","),
		"-seeds", strings.Join(seeds, ","), "-sides", strings.Join(s.Sides, ","), "-data", s.Data}
	if s.DataDir != "" {
		f = append(f, "-data-dir", s.DataDir)
	}
	return append(f, "-train-limit", strconv.Itoa(s.TrainLimit), "-test-limit", strconv.Itoa(s.TestLimit),
		"-batch", strconv.Itoa(s.Batch), "-epochs", strconv.Itoa(s.Epochs), "-stop-after", strconv.Itoa(s.StopAfter))
}

// Task is one run of the grid.
type Task struct {
	Index  int
	Model  string
	Recipe string
	Seed   int64
	Side   string
}

// Name is the task's run directory under OUT/runs.
func (t Task) Name() string {
	return fmt.Sprintf("%s-%s-%s-seed%d", t.Side, t.Model, t.Recipe, t.Seed)
}

// Tasks lists the grid in a fixed order: models, recipes, seeds, then sides, so that the two
// sides of a seed are neighbours and a partial study still compares like with like.
func (s Study) Tasks() []Task {
	var ts []Task
	for _, m := range s.Models {
		for _, r := range s.Recipes {
			for _, seed := range s.Seeds {
				for _, side := range s.Sides {
					ts = append(ts, Task{Index: len(ts), Model: m, Recipe: r, Seed: seed, Side: side})
				}
			}
		}
	}
	return ts
}

// Validate reports a study that cannot run, naming the flag that sets the bad value.
func (s Study) Validate() error {
	switch {
	case len(s.Models) == 0 || len(s.Recipes) == 0 || len(s.Seeds) == 0 || len(s.Sides) == 0:
		return fmt.Errorf("-models, -recipes, -seeds and -sides each need at least one value")
	case s.StopAfter < 0 || s.StopAfter > s.Epochs:
		return fmt.Errorf("-stop-after %d: want 0 (the whole schedule) to -epochs %d", s.StopAfter, s.Epochs)
	}
	for _, r := range s.Recipes {
		if _, ok := recipes[r]; !ok {
			return fmt.Errorf("-recipes: unknown recipe %q: want %s", r, strings.Join(recipeNames(), ", "))
		}
	}
	for _, side := range s.Sides {
		if side != sideGo && side != sideTorch {
			return fmt.Errorf("-sides: unknown side %q: want go or torch", side)
		}
	}
	if s.Data != "fashion-mnist" && slices.Contains(s.Sides, sideTorch) {
		return fmt.Errorf("-data %s: the PyTorch peer reads fashion-mnist only", s.Data)
	}
	for _, lists := range [][]string{s.Models, s.Recipes, s.Sides} {
		if dup := duplicate(lists); dup != "" {
			return fmt.Errorf("%q is given twice", dup)
		}
	}
	for i, seed := range s.Seeds {
		if slices.Contains(s.Seeds[i+1:], seed) {
			return fmt.Errorf("seed %d is given twice", seed)
		}
	}
	for _, m := range s.Models {
		if _, err := resnet.ByName(m, 10, 1); err != nil {
			return fmt.Errorf("-models: %w", err)
		}
		if err := s.Config(m, s.Recipes[0], s.Seeds[0]).Validate(); err != nil {
			return err
		}
	}
	return nil
}

func duplicate(list []string) string {
	for i, v := range list {
		if slices.Contains(list[i+1:], v) {
			return v
		}
	}
	return ""
}

// openStudy returns the study of out: the one recorded in out/study.json, which flags given
// explicitly must agree with, or, in a new directory, s, recorded there when create.
func openStudy(out string, s Study, explicit, create bool) (Study, error) {
	path := filepath.Join(out, studyFile)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !create:
		return s, fmt.Errorf("-out %s holds no study (%s): create it with its grid flags and -list, or give them here", out, studyFile)
	case errors.Is(err, fs.ErrNotExist):
		if err := s.Validate(); err != nil {
			return s, err
		}
		if err := os.MkdirAll(out, 0o755); err != nil {
			return s, err
		}
		js, _ := json.MarshalIndent(s, "", "  ")
		return s, runlog.WriteFileAtomic(path, append(js, '\n'))
	case err != nil:
		return s, err
	}
	var rec Study
	if err := json.Unmarshal(b, &rec); err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	if err := rec.Validate(); err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	if explicit && !reflect.DeepEqual(rec, s) {
		return s, fmt.Errorf("%s records another study; drop the grid flags to continue it, or choose another -out", path)
	}
	return rec, nil
}
