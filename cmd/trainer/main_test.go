package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/graph/ops"
	"github.com/resnet-go/resnet/resnet"
)

// TestMain lets the test binary stand in for the trainer binary when compare runs itself.
func TestMain(m *testing.M) {
	if os.Getenv("TRAINER_TEST_AS_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// The lesson's example through the CLI: ResNet18(num_classes=1000) on 1×3×224×224.
func TestSummaryResNet18(t *testing.T) {
	code, out, errOut := runCLI("summary", "-model", "resnet18", "-classes", "1000", "-input", "1,3,224,224")
	assert.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "params: 11689512\n")
	assert.Contains(t, out, "MACs: 1814073344 per example")
	assert.Contains(t, out, "output shape: [1 1000]\n")
	assert.Contains(t, out, "layer4.1.bn2")
}

func TestSummaryCIFARDefaults(t *testing.T) {
	code, out, errOut := runCLI("summary", "-model", "plain20", "-input", "2,1,28,28")
	assert.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "shortcut none")
	assert.Contains(t, out, "output shape: [2 10]\n")
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"summary", "-model", "resnet7"}, `unknown model "resnet7"`},
		{[]string{"summary", "-input", "1,3,224"}, "want four comma-separated sizes"},
		{[]string{"summary", "-input", "1,3,x,224"}, `size "x" is not a positive integer`},
		{[]string{"summary", "-input", "1,3,16,16"}, "needs H and W of at least 32"},
		{[]string{"summary", "-dtype", "int8"}, `-dtype "int8"`},
		{[]string{"summary", "-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"summary", "extra"}, `unexpected argument "extra"`},
		{[]string{"summary", "-classes", "-3"}, "classes -3"},
		{[]string{"bench", "-batch", "0"}, "-batch 0"},
		{[]string{"compare", "-workloads", "resnet20"}, `"resnet20" is not MODEL:BATCH`},
		{[]string{"compare", "-threads", "0"}, "-threads 0"},
		{[]string{"fit"}, `unknown command "fit"`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, errOut := runCLI(c.args...)
			assert.Equal(t, 2, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, c.want)
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
		})
	}
}

func TestBench(t *testing.T) {
	num := func(t *testing.T, out, pattern string) []float64 {
		t.Helper()
		m := regexp.MustCompile(pattern).FindStringSubmatch(out)
		require.NotNil(t, m, "%s in %s", pattern, out)
		var v []float64
		for _, s := range m[1:] {
			f, err := strconv.ParseFloat(s, 64)
			require.NoError(t, err)
			v = append(v, f)
		}
		return v
	}
	for _, infer := range []bool{false, true} {
		args := []string{"bench", "-model", "resnet8", "-batch", "4", "-steps", "3", "-warmup", "1"}
		if infer {
			args = append(args, "-infer")
		}
		code, out, errOut := runCLI(args...)
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, "blas "+ops.BLAS())
		assert.Equal(t, float64(ops.Workers()), num(t, out, `workers ([0-9]+)`)[0])
		med := num(t, out, `median: ([0-9.]+) ms/step \(min ([0-9.]+), max ([0-9.]+), 3 steps\)`)
		assert.Greater(t, med[0], 0.0)
		assert.LessOrEqual(t, med[1], med[0])
		assert.LessOrEqual(t, med[0], med[2])
		// The throughput is the batch over the median step, to the median's printed 0.1 ms: the
		// unrounded median is at least the printed one less 0.05 ms, which bounds the relative error.
		img := num(t, out, `throughput: ([0-9.]+) img/s`)[0]
		require.Greater(t, med[0], 0.05, "a step this fast cannot be checked to 0.1 ms")
		assert.InEpsilon(t, 4/(med[0]/1000), img, 0.05/(med[0]-0.05)+1e-3)
		assert.GreaterOrEqual(t, num(t, out, `allocated: ([0-9.]+) MB/step`)[0], 0.0)
		assert.Greater(t, num(t, out, `peak RSS: ([0-9.]+) MB`)[0], 1.0)
	}
}

// bench works for every model name (tiny inputs keep it quick).
func TestBenchEveryModel(t *testing.T) {
	for _, m := range []string{"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "plain18", "plain50",
		"resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "plain20", "plain110"} {
		t.Run(m, func(t *testing.T) {
			code, out, errOut := runCLI("bench", "-model", m, "-batch", "2", "-input", "2,3,32,32", "-steps", "1", "-warmup", "0")
			assert.Equal(t, 0, code, errOut)
			assert.Contains(t, out, "throughput: ")
		})
	}
}

// compare runs bench as a child process; without the PyTorch peer it measures this project only.
func TestCompareWithoutPeer(t *testing.T) {
	t.Setenv("TRAINER_TEST_AS_MAIN", "1")
	code, out, errOut := runCLI("compare", "-workloads", "resnet8:2,plain8-infer:2", "-rounds", "2", "-steps", "1",
		"-peer", t.TempDir()+"/missing.py")
	assert.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "PyTorch peer unavailable")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	assert.Len(t, lines, 4, out) // note, header, two workloads
	assert.True(t, strings.HasPrefix(lines[2], "resnet8 "), out)
	assert.True(t, strings.HasPrefix(lines[3], "plain8-infer "), out)
}

// peer runs code with the project's own PyTorch peer importable as p and returns its output lines.
func peer(t *testing.T, code string) []string {
	t.Helper()
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import torch, torchvision").Run(); err != nil {
		t.Fatalf("%s with torch and torchvision is needed (apt-get install python3-torch python3-torchvision; .ci/run installs them): %v", python, err)
	}
	script := filepath.Join(t.TempDir(), "pytorch_bench.py")
	require.NoError(t, os.WriteFile(script, peerScript, 0o644))
	code = `import sys; sys.argv = ["peer"]; sys.path.insert(0, sys.argv[0] and "` + filepath.Dir(script) + `")
import pytorch_bench as p
` + code
	out, err := exec.Command(python, "-c", code).CombinedOutput()
	require.NoError(t, err, string(out))
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// The project's own PyTorch peer builds exactly the nets this project builds: the same parameter
// count for each (option-A CIFAR nets, their plain twins, torchvision's ImageNet nets, the
// pre-activation nets and their twins).
func TestPeerBuildsTheSameNets(t *testing.T) {
	models := []string{"resnet20", "plain20", "resnet56", "resnet110", "resnet18", "resnet50",
		"preresnet20", "preplain20", "preresnet110", "preresnet164", "preplain164", "preresnet18", "preresnet50"}
	lines := peer(t, `for name in "`+strings.Join(models, " ")+`".split():
    m, size, classes = p.build(name)
    print(name, sum(q.numel() for q in m.parameters()))`)
	for i, line := range lines {
		var name string
		var n int
		_, err := fmt.Sscanf(line, "%s %d", &name, &n)
		require.NoError(t, err, line)
		require.Equal(t, models[i], name)
		e, err := resnet.Lookup(name)
		require.NoError(t, err)
		spec, err := resnet.ByName(name, e.Classes, 3)
		require.NoError(t, err)
		p, err := graph.NewParams(tensor.Float32, 1)
		require.NoError(t, err)
		sum, err := resnet.Summarize(spec, p, 32, 32)
		require.NoError(t, err)
		assert.Equal(t, sum.Params, n, name)
	}
}

// The peer's zero_init_residual zeroes the tensors graph.Config.ZeroInitResidual zeroes: the last
// BN γ of each post-activation residual block, the last convolution of each pre-activation one,
// nothing in a plain twin.
func TestPeerZeroInitResidual(t *testing.T) {
	models := []string{"resnet20", "plain20", "resnet18", "preresnet20", "preresnet164", "preplain20", "preresnet50"}
	lines := peer(t, `for name in "`+strings.Join(models, " ")+`".split():
    m, _, _ = p.build(name)
    p.zero_init_residual(m)
    print(name, " ".join(k for k, v in m.named_parameters() if k.endswith(".weight") and not v.any()) or "-")`)
	require.Len(t, lines, len(models))
	for i, line := range lines {
		f := strings.Fields(line)
		require.Equal(t, models[i], f[0])
		t.Run(f[0], func(t *testing.T) {
			e, err := resnet.Lookup(f[0])
			require.NoError(t, err)
			spec, err := resnet.ByName(f[0], e.Classes, 3)
			require.NoError(t, err)
			p, err := graph.NewParams(tensor.Float32, 1)
			require.NoError(t, err)
			_, err = resnet.New(spec, p, graph.Config{Mode: graph.Eval, ZeroInitResidual: true}, 1, 32, 32)
			require.NoError(t, err)
			zero := []string{}
			for _, e := range p.All() {
				if e.Kind == graph.Trainable && strings.HasSuffix(e.Name, ".weight") && allZero(e.Value.Data().([]float32)) {
					zero = append(zero, e.Name)
				}
			}
			want := f[1:]
			if want[0] == "-" {
				want = []string{}
			}
			assert.Equal(t, want, zero)
		})
	}
}

func allZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// The lesson's own ResNet18 (its nn.Conv2d keep their default bias): 11,694,312 parameters.
func TestSummaryLessonResNet18(t *testing.T) {
	code, out, errOut := runCLI("summary", "-model", "lesson-resnet18", "-classes", "1000", "-input", "1,3,224,224")
	assert.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "params: 11694312\n")
	assert.Contains(t, out, "output shape: [1 1000]\n")
	assert.Contains(t, out, "layer2.0.shortcut.0")
}

// trainer models lists the registry with parameter counts (torchvision's, the paper's, the
// lesson's); model names are case-insensitive everywhere.
func TestModels(t *testing.T) {
	code, out, errOut := runCLI("models")
	require.Equal(t, 0, code, errOut)
	for _, row := range [][]string{
		{"resnet18", "imagenet", "11689512", "1000", "3×224×224"},
		{"resnet152", "imagenet", "60192808"},
		{"resnet20", "cifar", "269722", "10", "3×32×32"},
		{"resnet1202", "cifar", "19421274"},
		{"lesson-resnet18", "lesson", "11694312"},
	} {
		found := false
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) >= len(row) && f[0] == row[0] {
				assert.Equal(t, row, f[:len(row)])
				found = true
			}
		}
		assert.True(t, found, "%s in\n%s", row[0], out)
	}
	assert.NotContains(t, out, "plain20 ", "twins only with -plain")

	code, out, errOut = runCLI("summary", "-model", "ResNet20")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "params: 269722\n")
}
