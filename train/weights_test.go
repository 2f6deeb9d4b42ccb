package train_test

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/resnet"
	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/weights"
)

const python = "/usr/bin/python3"

// torch runs train/testdata/torch_models.py; PyTorch is required (make test and .ci/run install
// Debian's), so its absence fails the test instead of skipping it.
func torch(t *testing.T, args ...string) []byte {
	t.Helper()
	if err := exec.Command(python, "-c", "import torch, torchvision").Run(); err != nil {
		t.Fatalf("%s with torch and torchvision is needed (apt-get install python3-torch python3-torchvision; make test and .ci/run install them): %v", python, err)
	}
	out, err := exec.Command(python, append([]string{filepath.Join("testdata", "torch_models.py")}, args...)...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return out
}

func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func writeF32(t *testing.T, path string, v []float32) {
	t.Helper()
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

// agreeWithin checks got against want within tol of want's scale (its largest magnitude).
func agreeWithin(t *testing.T, want, got []float32, tol float64, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	scale := 0.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	worst := 0.0
	for i := range want {
		worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
	}
	assert.LessOrEqual(t, worst, tol*scale, "%s: largest difference %g, scale %g", what, worst, scale)
}

// logitsOf evaluates the checkpoint's model on x (N×C×H×W).
func logitsOf(t *testing.T, ck *train.Checkpoint, x []float32, n int) []float32 {
	t.Helper()
	in := ck.State.Input
	ev, err := ck.Evaluator(n)
	require.NoError(t, err)
	defer ev.Close()
	out, err := ev.Logits(tensor.New(tensor.WithShape(n, in[0], in[1], in[2]), tensor.WithBacking(x)))
	require.NoError(t, err)
	return append([]float32(nil), out.Data().([]float32)...)
}

// torchvision's nets, the lesson's and the pre-activation nets, with random weights and BatchNorm statistics, imported
// from PyTorch's .pth and from safetensors, give PyTorch's eval-mode logits.
func TestWeightsFromPyTorch(t *testing.T) {
	for _, tc := range []struct {
		model string
		size  int
	}{
		{"resnet18", 64},
		{"resnet50", 64},
		{"lesson-resnet18", 64},
		{"preresnet20", 64},
		{"preresnet50", 64},
	} {
		t.Run(tc.model, func(t *testing.T) {
			dir := t.TempDir()
			torch(t, "make", dir, tc.model, "10", "64", "1")
			x, want := readF32(t, filepath.Join(dir, "x.f32")), readF32(t, filepath.Join(dir, "logits.f32"))
			for _, file := range []string{"model.pth", "model.safetensors"} {
				ck, err := train.OpenWeights(filepath.Join(dir, file), train.WeightsOptions{Model: tc.model, Height: tc.size, Width: tc.size})
				require.NoError(t, err, file)
				assert.Equal(t, 10, ck.State.Classes, "classes from fc.weight")
				agreeWithin(t, want, logitsOf(t, ck, x, 2), 1e-4, tc.model+" from "+file)
			}
		})
	}
}

// A net trained a few steps here (torchvision's resnet18, the pre-activation preresnet20),
// checkpointed, exported, is loaded by PyTorch with strict=True and gives the same logits;
// export → import is bit-exact.
func TestExportToPyTorch(t *testing.T) {
	for _, model := range []string{"resnet18", "preresnet20"} {
		t.Run(model, func(t *testing.T) { exportToPyTorch(t, model) })
	}
}

func exportToPyTorch(t *testing.T, model string) {
	dir := t.TempDir()
	spec, err := resnet.ByName(model, 10, 3)
	require.NoError(t, err)
	p, err := graph.NewParams(tensor.Float32, 1)
	require.NoError(t, err)
	opt, err := train.NewSGD(train.SGDConfig{LR: 0.05, Momentum: 0.9, WeightDecay: 1e-4})
	require.NoError(t, err)
	tr, err := train.NewTrainer(spec, p, graph.Config{}, 4, 32, 32, opt)
	require.NoError(t, err)
	defer tr.Close()
	xs := make([]float32, 4*3*32*32)
	for step := 0; step < 3; step++ {
		for i := range xs {
			xs[i] = float32(math.Sin(float64(i*(step+1)) * 0.37))
		}
		_, err := tr.Step(tensor.New(tensor.WithShape(4, 3, 32, 32), tensor.WithBacking(xs)), []int{1, 3, 5, 7})
		require.NoError(t, err)
	}
	cfg := train.DefaultConfig()
	cfg.Model = model
	ckPath := filepath.Join(dir, "checkpoint.ckpt")
	require.NoError(t, train.SaveCheckpoint(ckPath, train.RunState{Config: cfg, Model: model, Classes: 10,
		Input: [3]int{3, 32, 32}, Epoch: 1, Step: 3}, p, opt))
	ck, err := train.LoadCheckpoint(ckPath)
	require.NoError(t, err)
	out := filepath.Join(dir, model+".safetensors")
	require.NoError(t, ck.ExportWeights(out))

	x := make([]float32, 2*3*32*32)
	for i := range x {
		x[i] = float32(math.Cos(float64(i) * 0.11))
	}
	ours := logitsOf(t, ck, x, 2)
	writeF32(t, filepath.Join(dir, "x.f32"), x)
	torch(t, "logits", out, model, "10", filepath.Join(dir, "x.f32"), "3", "32", filepath.Join(dir, "torch.f32"))
	agreeWithin(t, readF32(t, filepath.Join(dir, "torch.f32")), ours, 1e-4, "PyTorch on the exported weights")

	back, err := train.OpenWeights(out, train.WeightsOptions{})
	require.NoError(t, err, "the metadata says everything")
	assert.Equal(t, ck.State.Model, back.State.Model)
	assert.Equal(t, ck.State.Input, back.State.Input)
	assert.Equal(t, ours, logitsOf(t, back, x, 2), "export then import is bit-exact")
	again := filepath.Join(dir, "again.safetensors")
	require.NoError(t, back.ExportWeights(again))
	f1, err := weights.ReadFile(out)
	require.NoError(t, err)
	f2, err := weights.ReadFile(again)
	require.NoError(t, err)
	require.Len(t, f2.Tensors, len(f1.Tensors))
	for i := range f1.Tensors {
		assert.Equal(t, f1.Tensors[i].F32, f2.Tensors[i].F32, f1.Tensors[i].Name)
	}
}

// -init starts a run from a weights file (a classifier of another class count is new), -freeze
// keeps the first layers as loaded, and the run records the file's digest.
func TestInitAndFreeze(t *testing.T) {
	base := t.TempDir()
	cfg := smallConfig()
	cfg.Epochs, cfg.Val = 1, 0
	_, err := train.Run(context.Background(), cfg, train.Options{Dir: filepath.Join(base, "a")})
	require.NoError(t, err)
	ck, err := train.LoadCheckpoint(filepath.Join(base, "a"))
	require.NoError(t, err)
	file := filepath.Join(base, "a.safetensors")
	require.NoError(t, ck.ExportWeights(file))
	f, err := weights.ReadFile(file)
	require.NoError(t, err)

	// The file's head has 5 classes: it is replaced by a fresh one.
	fewer := &weights.File{Metadata: f.Metadata}
	for _, tn := range f.Tensors {
		switch tn.Name {
		case "fc.weight":
			tn.Shape, tn.F32 = []int{5, 64}, tn.F32[:5*64]
		case "fc.bias":
			tn.Shape, tn.F32 = []int{5}, tn.F32[:5]
		}
		fewer.Tensors = append(fewer.Tensors, tn)
	}
	head := filepath.Join(base, "head5.safetensors")
	require.NoError(t, weights.WriteFile(head, fewer))

	cfg.Init, cfg.Freeze = head, "layer1"
	s, err := train.Prepare(cfg, train.Options{Dir: filepath.Join(base, "b")})
	require.NoError(t, err)
	assert.Contains(t, s.Describe(), "initialised from "+head+": ")
	assert.Contains(t, s.Describe(), "the classifier is new (fc.weight [5 64] in the file, [10 64] here; fc.bias [5] in the file, [10] here)")
	assert.Contains(t, s.Describe(), "frozen: conv1., bn1., layer1.")
	res, err := s.Train(context.Background())
	s.Close()
	require.NoError(t, err)
	for _, e := range res.Params.Trainable() {
		want, ok := f.Get(e.Name)
		require.True(t, ok, e.Name)
		got := e.Value.Data().([]float32)
		switch name := e.Name; {
		case name == "fc.weight" || name == "fc.bias":
		case hasAnyPrefix(name, "conv1.", "bn1.", "layer1."):
			assert.Equal(t, want.F32, got, "%s is frozen", name)
		default:
			assert.NotEqual(t, want.F32, got, "%s trains", name)
		}
	}
	runJSON, err := os.ReadFile(filepath.Join(base, "b", train.ConfigFile))
	require.NoError(t, err)
	assert.Contains(t, string(runJSON), `"init": "`+head+`"`)
	assert.Regexp(t, `"init_sha256": "[0-9a-f]{64}"`, string(runJSON))

	t.Run("the CIFAR net trained here, in PyTorch", func(t *testing.T) {
		// cmd/trainer/peer's CIFARNet has this project's names: strict loading, same logits.
		x := make([]float32, 2*28*28)
		for i := range x {
			x[i] = float32(math.Cos(float64(i) * 0.05))
		}
		writeF32(t, filepath.Join(base, "x.f32"), x)
		torch(t, "logits", file, "resnet8", "10", filepath.Join(base, "x.f32"), "1", "28", filepath.Join(base, "torch.f32"))
		agreeWithin(t, readF32(t, filepath.Join(base, "torch.f32")), logitsOf(t, ck, x, 2), 1e-4, "resnet8 exported to PyTorch")
	})
	t.Run("a file of another model is refused, naming what does not fit", func(t *testing.T) {
		other := smallConfig()
		other.Model, other.Init, other.Epochs = "resnet14", file, 1
		_, err := train.Prepare(other, train.Options{Dir: filepath.Join(base, "c")})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "does not fit the model: missing keys: layer1.1.conv1.weight")
		assert.NoDirExists(t, filepath.Join(base, "c"))
	})
	t.Run("a changed file is refused", func(t *testing.T) {
		again := cfg
		again.InitSHA256 = "0000"
		_, err := train.Prepare(again, train.Options{Dir: filepath.Join(base, "d")})
		assert.ErrorContains(t, err, "the run's settings record 0000: another file")
	})
	t.Run("freeze needs init", func(t *testing.T) {
		bad := smallConfig()
		bad.Freeze = "layer2"
		assert.ErrorContains(t, bad.Validate(), "Config.Freeze layer2 needs Config.Init")
		bad.Init, bad.Freeze = file, "layer9"
		assert.ErrorContains(t, bad.Validate(), `Config.Freeze "layer9": want stem or layer1 … layer4`)
	})
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if len(s) >= len(p) && s[:len(p)] == p {
			return true
		}
	}
	return false
}
