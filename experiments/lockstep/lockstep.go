package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/graph/ops"
	"github.com/resnet-go/resnet/resnet"
	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/data"
	"github.com/resnet-go/resnet/train/weights"
)

// meta is meta.json: everything the PyTorch side needs besides the weights and the batches.
type meta struct {
	Model    string    `json:"model"`
	Classes  int       `json:"classes"`
	C        int       `json:"c"`
	H        int       `json:"h"`
	W        int       `json:"w"`
	Batch    int       `json:"batch"`
	Steps    int       `json:"steps"`
	Dtype    string    `json:"dtype"`
	LRs      []float64 `json:"lrs"` // of every step
	Momentum float64   `json:"momentum"`
	WD       float64   `json:"weight_decay"`
	// GradLayers are the parameters whose gradient norm is recorded, BNLayers the BatchNorms
	// whose running statistics are.
	GradLayers []string `json:"grad_layers"`
	BNLayers   []string `json:"bn_layers"`
}

// record is one side's output (go.json, torch.json): per step, quantity → value; and per
// parameter, the comparison with Go's step-1 gradients and final weights (PyTorch side only).
type record struct {
	Steps   []map[string]float64 `json:"steps"`
	Params  []paramDiff          `json:"params,omitempty"`
	Seconds float64              `json:"seconds"`
}

// paramDiff compares one tensor of the two sides: ‖a − b‖/‖b‖, b PyTorch's.
type paramDiff struct {
	Name      string   `json:"name"`
	Grad1Rel  *float64 `json:"grad1_rel"`  // gradient at step 1 (null for buffers)
	Grad1Norm *float64 `json:"grad1_norm"` // PyTorch's
	FinalRel  float64  `json:"final_rel"`  // value after the last step
}

// dtypeRun is one precision's comparison.
type dtypeRun struct {
	Dtype        string
	Steps        int
	Go, Torch    record
	GoSeconds    float64
	TorchSeconds float64
	// Nudged is the control (-control): Go's loss per step from the same weights moved by
	// NudgeUlps ulps, on the same batches; nil without it.
	Nudged    []float64
	NudgeUlps int
}

// layers picks the recorded layers of a CIFAR net with n blocks per stage: the stem, the middle
// block of the second stage, the last block, and fc.
func layers(spec resnet.Spec) (grads, bns []string) {
	n := spec.Blocks[1]
	mid := fmt.Sprintf("layer2.%d", n/2)
	last := fmt.Sprintf("layer3.%d", n-1)
	grads = []string{"conv1.weight", mid + ".conv1.weight", last + ".conv2.weight", "fc.weight"}
	bns = []string{"bn1", mid + ".bn1", last + ".bn2"}
	return grads, bns
}

// checkPython fails early, with the way to fix it, when the interpreter has no torch.
func checkPython(s settings) error {
	out, err := exec.Command(s.python, "-c", "import torch, torchvision; print(torch.__version__)").CombinedOutput()
	if err != nil {
		return fmt.Errorf("the PyTorch side needs %s with torch and torchvision (.ci/run and make setup-test install Debian's python3-torch python3-torchvision): %v: %s",
			s.python, err, strings.TrimSpace(string(out)))
	}
	if _, err := os.Stat(s.script); err != nil {
		return fmt.Errorf("the PyTorch side: %w (pass -script)", err)
	}
	return nil
}

// lockstep runs both sides in one precision, exchanging files in dir.
func lockstep(s settings, dtype, dir string, stdout io.Writer) (dtypeRun, error) {
	steps := s.Steps
	if dtype == "float64" {
		steps = s.Steps64
	}
	r := dtypeRun{Dtype: dtype, Steps: steps}
	dt := tensor.Float32
	if dtype == "float64" {
		dt = tensor.Float64
	}
	if s.workers > 0 {
		ops.SetWorkers(s.workers)
	}
	g, err := newGoRun(s, dt)
	if err != nil {
		return r, err
	}
	defer g.tr.Close()

	gradLayers, bnLayers := layers(g.spec)
	m := meta{Model: s.Model, Classes: g.spec.Classes, C: g.c, H: g.h, W: g.w, Batch: s.Batch, Steps: steps, Dtype: dtype,
		Momentum: s.Momentum, WD: s.WD, GradLayers: gradLayers, BNLayers: bnLayers}
	sched := train.Schedule{Kind: "constant", Base: s.LR, Warmup: s.Warmup, Total: steps + s.Warmup + 1}
	for k := 0; k < steps; k++ {
		m.LRs = append(m.LRs, sched.At(k))
	}
	if err := writeJSON(filepath.Join(dir, "meta.json"), m); err != nil {
		return r, err
	}
	// The weights before any step, BatchNorm statistics included.
	if err := weights.WriteFile(filepath.Join(dir, "initial.safetensors"), weights.FromParams(g.p, 0)); err != nil {
		return r, err
	}

	bf, err := os.Create(filepath.Join(dir, "batches.bin"))
	if err != nil {
		return r, err
	}
	defer bf.Close()
	bw := bufio.NewWriterSize(bf, 1<<20)

	fmt.Fprintf(stdout, "lockstep %s %s: %s on %s, %d steps of batch %d, lr %g (warm-up %d), blas %s, workers %d\n",
		dtype, "go", s.Model, s.Data, steps, s.Batch, s.LR, s.Warmup, ops.BLAS(), ops.Workers())
	start := time.Now()
	err = g.train(m.LRs, "go "+dtype, stdout, func(step int, b *data.Batch, loss float64) error {
		if err := writeBatch(bw, b); err != nil {
			return err
		}
		rec, err := measure(g.tr, g.p, gradLayers, bnLayers)
		if err != nil {
			return err
		}
		rec["loss"], rec["lr"] = loss, m.LRs[step]
		r.Go.Steps = append(r.Go.Steps, rec)
		if step == 0 {
			return writeGradients(filepath.Join(dir, "grads1.safetensors"), g.tr)
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	r.GoSeconds = time.Since(start).Seconds()
	r.Go.Seconds = r.GoSeconds
	if err := bw.Flush(); err != nil {
		return r, err
	}
	if err := bf.Close(); err != nil {
		return r, err
	}
	if err := weights.WriteFile(filepath.Join(dir, "final.safetensors"), weights.FromParams(g.p, int64(steps))); err != nil {
		return r, err
	}
	if err := writeJSON(filepath.Join(dir, "go.json"), r.Go); err != nil {
		return r, err
	}

	fmt.Fprintf(stdout, "lockstep %s torch: %s %s\n", dtype, s.python, s.script)
	cmd := exec.Command(s.python, s.script, "-dir", dir, "-threads", fmt.Sprint(s.threads))
	cmd.Stdout, cmd.Stderr = stdout, os.Stderr
	start = time.Now()
	if err := cmd.Run(); err != nil {
		return r, fmt.Errorf("the PyTorch side (%s %s -dir %s): %w", s.python, s.script, dir, err)
	}
	r.TorchSeconds = time.Since(start).Seconds()
	b, err := os.ReadFile(filepath.Join(dir, "torch.json"))
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r.Torch); err != nil {
		return r, fmt.Errorf("torch.json: %w", err)
	}
	if len(r.Torch.Steps) != steps {
		return r, fmt.Errorf("torch.json has %d steps, want %d", len(r.Torch.Steps), steps)
	}
	fmt.Fprintf(stdout, "lockstep %s: go %.0f s, torch %.0f s (torch's own loop %.0f s)\n", dtype, r.GoSeconds, r.TorchSeconds, r.Torch.Seconds)
	if s.control {
		r.NudgeUlps = s.nudge
		if r.Nudged, err = nudgedRun(s, dt, m.LRs, stdout); err != nil {
			return r, fmt.Errorf("the control run: %w", err)
		}
	}
	return r, nil
}

// goRun is the Go side of one trajectory: the net, its optimizer and the loader of s.
type goRun struct {
	spec    resnet.Spec
	c, h, w int
	p       *graph.Params
	opt     *train.SGD
	tr      *train.Trainer
	l       *data.Loader
}

func newGoRun(s settings, dt tensor.Dtype) (*goRun, error) {
	ds, err := data.Open(s.Data, s.DataDir, "train")
	if err != nil {
		return nil, err
	}
	g := &goRun{}
	g.c, g.h, g.w = ds.Shape()
	if g.spec, err = resnet.ByName(s.Model, ds.Classes(), g.c); err != nil {
		return nil, err
	}
	if g.p, err = graph.NewParams(dt, s.Seed); err != nil {
		return nil, err
	}
	if g.opt, err = train.NewSGD(train.SGDConfig{LR: s.LR, Momentum: s.Momentum, WeightDecay: s.WD}); err != nil {
		return nil, err
	}
	if g.tr, err = train.NewTrainer(g.spec, g.p, graph.Config{}, s.Batch, g.h, g.w, g.opt); err != nil {
		return nil, err
	}
	mean, std := data.ChannelStats(ds)
	g.l, err = data.NewLoader(ds, data.LoaderConfig{Batch: s.Batch, Shuffle: true, DropLast: true, Seed: s.Seed,
		Augment: data.Augment{Pad: 4, Flip: true}, Mean: mean, Std: std, Dtype: dt})
	if err != nil {
		g.tr.Close()
		return nil, err
	}
	return g, nil
}

// train runs one step per learning rate in lrs, calling each after the backward pass and
// before the update.
func (g *goRun) train(lrs []float64, label string, stdout io.Writer, each func(step int, b *data.Batch, loss float64) error) error {
	start := time.Now()
	for epoch, step := 0, 0; step < len(lrs); epoch++ {
		it := g.l.Epoch(epoch)
		for b, ok := it.Next(); ok && step < len(lrs); b, ok = it.Next() {
			g.opt.SetLR(lrs[step])
			loss, err := g.tr.Compute(b.X, b.Labels)
			if err == nil {
				err = each(step, b, loss)
			}
			if err == nil {
				err = g.tr.Apply()
			}
			if err != nil {
				it.Close()
				return err
			}
			step++
			if step%10 == 0 || step == len(lrs) {
				fmt.Fprintf(stdout, "  %s step %d/%d loss %.5f  %.1f s/step\n", label, step, len(lrs), loss, time.Since(start).Seconds()/float64(step))
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				it.Close()
				return fmt.Errorf("go: loss %v at step %d", loss, step)
			}
		}
		it.Close()
	}
	return nil
}

// nudgedRun is the control: Go again from the same initial weights, each nonzero trainable one
// moved up by s.nudge ulps, on the same batches, returning the loss of every step. How fast its loss leaves
// the unnudged run's is how fast this net and recipe amplify a difference of the precision's
// rounding: the yardstick for the split between Go and PyTorch.
func nudgedRun(s settings, dt tensor.Dtype, lrs []float64, stdout io.Writer) ([]float64, error) {
	g, err := newGoRun(s, dt)
	if err != nil {
		return nil, err
	}
	defer g.tr.Close()
	for _, bd := range g.tr.Params() {
		switch d := bd.Param.Value.Data().(type) {
		case []float32:
			for i, v := range d {
				for k := 0; k < s.nudge && v != 0; k++ { // a zero would become a denormal
					v = math.Nextafter32(v, float32(math.Inf(1)))
				}
				d[i] = v
			}
		case []float64:
			for i, v := range d {
				for k := 0; k < s.nudge && v != 0; k++ {
					v = math.Nextafter(v, math.Inf(1))
				}
				d[i] = v
			}
		}
	}
	var losses []float64
	err = g.train(lrs, fmt.Sprintf("go %s, nudged %d ulp", dt, s.nudge), stdout, func(_ int, _ *data.Batch, loss float64) error {
		losses = append(losses, loss)
		return nil
	})
	return losses, err
}

// measure reads, after Compute and before Apply: the global gradient norm, the gradient norms
// of gradLayers and the running statistics of bnLayers (mean of running_var, RMS of
// running_mean), as the PyTorch side names them.
func measure(tr *train.Trainer, p *graph.Params, gradLayers, bnLayers []string) (map[string]float64, error) {
	rec := map[string]float64{}
	want := map[string]bool{}
	for _, n := range gradLayers {
		want[n] = true
	}
	var total float64
	for _, bd := range tr.Params() {
		g, err := tr.Gradient(bd)
		if err != nil {
			return nil, err
		}
		ss := sumSquares(g.Data())
		total += ss
		if want[bd.Param.Name] {
			rec["grad:"+bd.Param.Name] = math.Sqrt(ss)
		}
	}
	rec["grad_norm"] = math.Sqrt(total)
	for _, bn := range bnLayers {
		v, ok1 := p.Get(bn + ".running_var")
		mu, ok2 := p.Get(bn + ".running_mean")
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("no running statistics %s", bn)
		}
		vs := floats(v.Value.Data())
		ms := floats(mu.Value.Data())
		var sv, sm float64
		for i := range vs {
			sv += vs[i]
			sm += ms[i] * ms[i]
		}
		rec["running_var:"+bn] = sv / float64(len(vs))
		rec["running_mean_rms:"+bn] = math.Sqrt(sm / float64(len(ms)))
	}
	return rec, nil
}

func floats(d any) []float64 {
	switch x := d.(type) {
	case []float32:
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = float64(v)
		}
		return out
	case []float64:
		return x
	}
	return nil
}

func sumSquares(d any) float64 {
	var s float64
	for _, v := range floats(d) {
		s += v * v
	}
	return s
}

// writeBatch appends one step of batches.bin: labels as int32, then the inputs.
func writeBatch(w io.Writer, b *data.Batch) error {
	if b.N != len(b.Labels) {
		return errors.New("a partial batch (DropLast should prevent it)")
	}
	labels := make([]int32, len(b.Labels))
	for i, l := range b.Labels {
		labels[i] = int32(l)
	}
	if err := binary.Write(w, binary.LittleEndian, labels); err != nil {
		return err
	}
	return binary.Write(w, binary.LittleEndian, b.X.Data())
}

// writeGradients saves every trainable parameter's gradient of the last Compute, by name.
func writeGradients(path string, tr *train.Trainer) error {
	f := &weights.File{}
	for _, bd := range tr.Params() {
		g, err := tr.Gradient(bd)
		if err != nil {
			return err
		}
		t := weights.Tensor{Name: bd.Param.Name, Shape: append([]int(nil), g.Shape()...)}
		switch d := g.Data().(type) {
		case []float32:
			t.Dtype, t.F32 = weights.F32, append([]float32(nil), d...)
		case []float64:
			t.Dtype, t.F64 = weights.F64, append([]float64(nil), d...)
		}
		f.Tensors = append(f.Tensors, t)
	}
	return weights.WriteFile(path, f)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
