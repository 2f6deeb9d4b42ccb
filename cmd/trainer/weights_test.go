package main

import (
	"encoding/json"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// torchModels runs train/testdata/torch_models.py with Debian's PyTorch (make test and .ci/run
// install it; without it the test fails saying so).
func torchModels(t *testing.T, args ...string) []byte {
	t.Helper()
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import torch, torchvision").Run(); err != nil {
		t.Fatalf("%s with torch and torchvision is needed (apt-get install python3-torch python3-torchvision; .ci/run installs them): %v", python, err)
	}
	script := filepath.Join("..", "..", "train", "testdata", "torch_models.py")
	out, err := exec.Command(python, append([]string{script}, args...)...).Output()
	require.NoError(t, err, "%s", out)
	return out
}

// torchvision's 1000-class resnet18, saved by torch.save at test time, through the CLI: import
// to safetensors and to a checkpoint, then predict on an image, as PyTorch does.
func TestImportPredictResNet18(t *testing.T) {
	dir := t.TempDir()
	torchModels(t, "make", dir, "resnet18", "1000", "32", "3")
	pth := filepath.Join(dir, "model.pth")

	st := filepath.Join(dir, "r18.safetensors")
	code, out, errOut := runCLI("import", pth, "-model", "resnet18", "-o", st)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "resnet18 (1000 classes, 3×224×224 input) from "+pth+" → "+st+"\n", out)
	ckpt := filepath.Join(dir, "r18.ckpt")
	code, _, errOut = runCLI("import", pth, "-model", "resnet18", "-o", ckpt)
	require.Equal(t, 0, code, errOut)

	img := image.NewRGBA(image.Rect(0, 0, 224, 224))
	for i := range img.Pix {
		img.Pix[i] = uint8((i*7 + i/897) % 256)
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	photo := filepath.Join(dir, "photo.png")
	writePNG(t, photo, img)
	var want []struct {
		Class int
		Prob  float64
	}
	require.NoError(t, json.Unmarshal(torchModels(t, "predict", pth, photo), &want))

	for _, src := range [][]string{{"-weights", st}, {"-weights", pth, "-model", "resnet18"}, {"-checkpoint", ckpt}} {
		code, out, errOut := runCLI(append(append([]string{"predict"}, src...), photo, "-json", "-top", "5")...)
		require.Equal(t, 0, code, errOut)
		var got struct {
			Top []struct {
				Class int
				Prob  float64
			}
		}
		require.NoError(t, json.Unmarshal([]byte(out), &got), out)
		require.Len(t, got.Top, 5)
		for i := range want {
			assert.Equal(t, want[i].Class, got.Top[i].Class, "%v: rank %d", src, i)
			assert.InDelta(t, want[i].Prob, got.Top[i].Prob, 1e-4, "%v: rank %d", src, i)
		}
	}

	t.Run("bad files: one line, nothing written", func(t *testing.T) {
		trunc := filepath.Join(dir, "trunc.pth")
		b, err := os.ReadFile(pth)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(trunc, b[:len(b)/2], 0o644))
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"import", trunc, "-model", "resnet18"}, "trunc.pth"},
			{[]string{"import", pth, "-model", "resnet50"}, "missing keys: layer1.0.conv3.weight"},
			{[]string{"import", pth, "-model", "lesson-resnet18"}, "missing keys: conv1.bias"},
			{[]string{"import", pth}, "name no model"},
		} {
			outFile := filepath.Join(dir, "out.safetensors")
			code, _, errOut := runCLI(append(tc.args, "-o", outFile)...)
			assert.Equal(t, 1, code, "%v", tc.args)
			assert.Contains(t, errOut, tc.want, "%v", tc.args)
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
			assert.NoFileExists(t, outFile)
		}
	})
}

// export writes what eval reads back, and a checkpoint trained here round-trips.
func TestExportCLI(t *testing.T) {
	run := trainQuick(t)
	out := filepath.Join(t.TempDir(), "m.safetensors")
	code, stdout, errOut := runCLI("export", "-checkpoint", run, "-o", out)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, stdout, "resnet8 (epoch 1) → "+out)
	code, a, errOut := runCLI("eval", "-checkpoint", run, "-json")
	require.Equal(t, 0, code, errOut)
	code, b, errOut := runCLI("eval", "-weights", out, "-json")
	require.Equal(t, 0, code, errOut)
	var ra, rb map[string]any
	require.NoError(t, json.Unmarshal([]byte(a), &ra))
	require.NoError(t, json.Unmarshal([]byte(b), &rb))
	assert.Equal(t, ra["loss"], rb["loss"], "the same model, bit for bit")
	assert.Equal(t, ra["confusion"], rb["confusion"])
	code, _, errOut = runCLI("export", "-checkpoint", run, "-o", out)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "exists")
}
