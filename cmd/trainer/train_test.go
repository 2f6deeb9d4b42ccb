package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
	"github.com/resnet-go/resnet/train"
)

// quick is a training run of a few seconds on the synthetic set.
var quick = []string{"-model", "resnet8", "-data", "synthetic", "-train-limit", "128", "-epochs", "1", "-batch", "32", "-eval-batch", "250", "-warmup", "0", "-quiet"}

func trainQuick(t *testing.T, extra ...string) string {
	dir := filepath.Join(t.TempDir(), "run")
	code, out, errOut := runCLI(append(append([]string{"train", "-out", dir}, quick...), extra...)...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "training resnet8 (75002 parameters) on synthetic: 128 training and 500 test images of 1×28×28; 1 epoch of 4 steps\n")
	assert.Contains(t, out, "epoch   1/1")
	assert.Contains(t, out, "test accuracy: ")
	return dir
}

func TestTrainEvalPredict(t *testing.T) {
	dir := trainQuick(t)
	for _, f := range []string{"checkpoint.ckpt", "run.json", "metrics.jsonl", "metrics.csv", "curves.png"} {
		assert.FileExists(t, filepath.Join(dir, f))
	}

	t.Run("a second run does not overwrite the first", func(t *testing.T) {
		before, err := os.ReadFile(filepath.Join(dir, "checkpoint.ckpt"))
		require.NoError(t, err)
		code, _, errOut := runCLI(append([]string{"train", "-out", dir}, quick...)...)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "already holds a run")
		after, err := os.ReadFile(filepath.Join(dir, "checkpoint.ckpt"))
		require.NoError(t, err)
		assert.Equal(t, before, after)
	})

	t.Run("resume refuses changed settings", func(t *testing.T) {
		code, _, errOut := runCLI("train", "-resume", "-out", dir, "-epochs", "2", "-quiet")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "epochs 1 there, 2 now")
	})

	t.Run("a finished run resumes to nothing to do", func(t *testing.T) {
		code, out, errOut := runCLI("train", "-resume", "-out", dir, "-quiet")
		assert.Equal(t, 0, code, errOut)
		assert.Contains(t, out, "resuming resnet8")
		assert.Contains(t, out, "test accuracy: ")
	})

	t.Run("config file", func(t *testing.T) {
		dir2 := filepath.Join(t.TempDir(), "again")
		code, out, errOut := runCLI("train", "-config", filepath.Join(dir, "run.json"), "-out", dir2, "-quiet")
		assert.Equal(t, 0, code, errOut)
		assert.Contains(t, out, "training resnet8 (75002 parameters) on synthetic")
		a, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
		b, _ := os.ReadFile(filepath.Join(dir2, "metrics.jsonl"))
		var ra, rb map[string]any
		require.NoError(t, json.Unmarshal(a, &ra))
		require.NoError(t, json.Unmarshal(b, &rb))
		assert.Equal(t, ra["test_loss"], rb["test_loss"], "the same settings give the same run")
	})

	t.Run("eval", func(t *testing.T) {
		code, out, errOut := runCLI("eval", "-checkpoint", dir)
		assert.Equal(t, 0, code, errOut)
		assert.Contains(t, out, "on synthetic test: 500 images")
		assert.Contains(t, out, "accuracy")
		assert.Contains(t, out, "confusion matrix (rows: true class, columns: predicted class):")
		assert.Equal(t, 14, strings.Count(out, "\n"), out) // title, loss, matrix title, header, 10 rows

		code, out, errOut = runCLI("eval", "-checkpoint", dir, "-json")
		require.Equal(t, 0, code, errOut)
		var res struct {
			N            int
			Top1Error    float64 `json:"top1_error"`
			Top1Accuracy float64 `json:"top1_accuracy"`
			Top5Accuracy float64 `json:"top5_accuracy"`
			Confusion    [][]int
		}
		require.NoError(t, json.Unmarshal([]byte(out), &res))
		assert.Equal(t, 500, res.N)
		assert.InDelta(t, 1, res.Top1Accuracy+res.Top1Error, 1e-12)
		assert.GreaterOrEqual(t, res.Top5Accuracy, res.Top1Accuracy, "the label is among the top 5 whenever it is the top 1")
		assert.Len(t, res.Confusion, 10)
	})

	t.Run("predict PNG", func(t *testing.T) {
		img := image.NewGray(image.Rect(0, 0, 28, 28))
		for i := range img.Pix {
			img.Pix[i] = uint8(i * 7)
		}
		p := filepath.Join(t.TempDir(), "x.png")
		writePNG(t, p, img)
		code, out, errOut := runCLI("predict", "-checkpoint", filepath.Join(dir, "checkpoint.ckpt"), "-top", "2", p, p)
		assert.Equal(t, 0, code, errOut)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 2, out)
		assert.True(t, strings.HasPrefix(lines[0], p+":"), out)
		assert.Equal(t, 2, strings.Count(lines[0], "%"), out)
		assert.Equal(t, lines[0], lines[1])

		// Flags may follow the files (the README's `predict -checkpoint DIR FILE -limit 5`).
		code, after, errOut := runCLI("predict", p, "-checkpoint", dir, p, "-top", "2")
		assert.Equal(t, 0, code, errOut)
		assert.Equal(t, out, after)

		// Any size is scaled and centre-cropped; a directory gives its images; -json is one
		// object per image.
		photos := t.TempDir()
		writePNG(t, filepath.Join(photos, "small.png"), image.NewRGBA(image.Rect(0, 0, 10, 12)))
		big := image.NewGray(image.Rect(0, 0, 300, 200))
		for i := range big.Pix {
			big.Pix[i] = uint8(i)
		}
		writePNG(t, filepath.Join(photos, "big.png"), big)
		require.NoError(t, os.WriteFile(filepath.Join(photos, "notes.txt"), []byte("not an image"), 0o644))
		code, out, errOut = runCLI("predict", "-checkpoint", dir, photos, "-json", "-top", "5", "-invert")
		require.Equal(t, 0, code, errOut)
		lines = strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 2, out)
		var pred struct {
			File string
			Top  []struct {
				Class int
				Name  string
				Prob  float64
			}
		}
		require.NoError(t, json.Unmarshal([]byte(lines[0]), &pred))
		assert.Equal(t, filepath.Join(photos, "big.png"), pred.File, "in name order")
		require.Len(t, pred.Top, 5)
		var sum float64
		for i, c := range pred.Top {
			sum += c.Prob
			if i > 0 {
				assert.LessOrEqual(t, c.Prob, pred.Top[i-1].Prob)
			}
		}
		assert.InDelta(t, 0.5, sum, 0.5)

		code, _, errOut = runCLI("predict", "-checkpoint", dir, filepath.Join(photos, "notes.txt"), "-format", "image")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "notes.txt: not a PNG or JPEG image")
	})

	t.Run("eval on data the model cannot take", func(t *testing.T) {
		cifar := t.TempDir()
		rec := make([]byte, 3073)
		for _, f := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"} {
			require.NoError(t, os.WriteFile(filepath.Join(cifar, f), rec, 0o644))
		}
		code, _, errOut := runCLI("eval", "-checkpoint", dir, "-data", "cifar10", "-data-dir", cifar)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "the data are 3×32×32 images of 10 classes")
		assert.Contains(t, errOut, "holds resnet8 for 1×28×28 images")
	})
}

func writePNG(t *testing.T, path string, img image.Image) {
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, png.Encode(f, img))
	require.NoError(t, f.Close())
}

// Bad input of train, eval and predict: one line naming the problem, non-zero status, nothing
// on stdout.
func TestTrainBadInput(t *testing.T) {
	tmp := t.TempDir()
	junk := filepath.Join(tmp, "junk.ckpt")
	require.NoError(t, os.WriteFile(junk, []byte("hello"), 0o644))
	badCfg := filepath.Join(tmp, "bad.json")
	require.NoError(t, os.WriteFile(badCfg, []byte(`{"model": "resnet20", "learning_rate": 0.1}`), 0o644))
	twoObjects := filepath.Join(tmp, "two.json")
	require.NoError(t, os.WriteFile(twoObjects, []byte(`{"model": "resnet20"} {"model": "resnet56"}`), 0o644))
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"train", "-lr", "-1"}, 2, "-lr -1"},
		{[]string{"train", "-momentum", "NaN"}, 2, "-momentum NaN"},
		{[]string{"train", "-wd", "NaN"}, 2, "-wd NaN"},
		{[]string{"train", "-wd", "Inf"}, 2, "-wd +Inf"},
		{[]string{"train", "-schedule", "step", "-gamma", "NaN"}, 2, "gamma NaN"},
		{[]string{"train", "-schedule", "step", "-milestones", "0.5,NaN"}, 2, "milestone NaN"},
		{[]string{"train", "-warmup", "NaN"}, 2, "-warmup NaN"},
		{[]string{"train", "-warmup-lr", "NaN"}, 2, "-warmup-lr NaN"},
		{[]string{"train", "-warmup-lr", "0.01", "-warmup", "0"}, 2, "-warmup-lr 0.01 needs -warmup > 0"},
		{[]string{"train", "-warmup-until-error", "0.8"}, 2, "-warmup-until-error 0.8 needs -warmup-lr"},
		{[]string{"train", "-warmup-lr", "0.01", "-warmup-until-error", "1.5"}, 2, "-warmup-until-error 1.5: want a training error between 0 (off) and 1"},
		{[]string{"train", "-epochs", "9223372036854775807"}, 2, "-epochs 9223372036854775807: want 1 to 100000"},
		{[]string{"train", "-pad", "100000"}, 2, "-pad 100000: want 0 to 64"},
		{[]string{"train", "-pad", "40", "-data", "synthetic", "-out", filepath.Join(tmp, "r")}, 1, "-pad 40: wider than the 28×28 images"},
		{[]string{"train", "-config", twoObjects}, 2, "data after the settings object"},
		{[]string{"train", "-schedule", "exp"}, 2, `schedule "exp"`},
		{[]string{"train", "-data", "imagenet"}, 2, `-data "imagenet": want one of fashion-mnist, mnist, cifar10, cifar100, synthetic, builtin`},
		{[]string{"train", "-batch", "1"}, 2, "-batch 1"},
		{[]string{"train", "-milestones", "0.5,x"}, 2, `"x" is not a number`},
		{[]string{"train", "-milestones", "0.8,0.5", "-schedule", "step"}, 2, "not increasing"},
		{[]string{"train", "-warmup", "20"}, 2, "-warmup 20"},
		{[]string{"train", "-stop-after", "-1"}, 2, "-stop-after -1"},
		{[]string{"train", "-dtype", "int8"}, 2, `-dtype "int8"`},
		{[]string{"train", "-config", badCfg}, 2, `unknown field "learning_rate"`},
		{[]string{"train", "-config", filepath.Join(tmp, "none.json")}, 2, "none.json"},
		{[]string{"train", "-resume"}, 2, "-resume needs -out"},
		{[]string{"train", "-resume", "-out", tmp}, 1, "checkpoint.ckpt"},
		{[]string{"train", "-model", "resnet7", "-out", filepath.Join(tmp, "r")}, 2, `unknown model "resnet7"`},
		{[]string{"train", "-data", "cifar10", "-out", filepath.Join(tmp, "r")}, 1, "-data-dir"},
		{[]string{"train", "-data", "fashion-mnist", "-data-dir", filepath.Join(tmp, "nowhere"), "-out", filepath.Join(tmp, "r")}, 1, "nowhere"},
		{[]string{"eval"}, 2, "-checkpoint or -weights is required"},
		{[]string{"eval", "-checkpoint", junk, "-weights", junk}, 2, "-checkpoint and -weights: give one"},
		{[]string{"eval", "-checkpoint", junk, "-model", "resnet18"}, 2, "-model, -classes and -size go with -weights"},
		{[]string{"eval", "-weights", junk, "-size", "x"}, 2, `-size "x"`},
		{[]string{"eval", "-weights", junk}, 1, "junk.ckpt"},
		{[]string{"import", junk}, 2, "-o is required"},
		{[]string{"import", "-o", filepath.Join(tmp, "x.safetensors")}, 2, "want one weights file, got 0"},
		{[]string{"import", junk, "-o", junk}, 1, "junk.ckpt exists"},
		{[]string{"export", "-checkpoint", junk, "-o", filepath.Join(tmp, "x.bin")}, 2, "name the file .safetensors"},
		{[]string{"export", "-checkpoint", junk, "-o", filepath.Join(tmp, "x.safetensors")}, 1, "not a checkpoint"},
		{[]string{"eval", "-checkpoint", junk}, 1, "not a checkpoint"},
		{[]string{"eval", "-checkpoint", filepath.Join(tmp, "missing.ckpt")}, 1, "missing.ckpt"},
		{[]string{"eval", "-checkpoint", junk, "-split", "val"}, 2, `-split "val"`},
		{[]string{"predict", "-checkpoint", junk}, 2, "no images given"},
		{[]string{"predict", "-checkpoint", junk, "-resize", "-1", "x.png"}, 2, "-resize -1"},
		{[]string{"predict", "-checkpoint", junk, "-format", "jpeg", "x"}, 2, `-format "jpeg"`},
		{[]string{"predict", "-checkpoint", junk, "x.png"}, 1, "not a checkpoint"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, errOut := runCLI(c.args...)
			assert.Equal(t, c.code, code, errOut)
			assert.Empty(t, out)
			assert.Contains(t, errOut, c.want)
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
		})
	}
}

// A run of one epoch works with the default warm-up, which scales with the run.
func TestShortRunWithDefaults(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	code, out, errOut := runCLI("train", "-out", dir, "-model", "resnet8", "-data", "synthetic", "-train-limit", "64",
		"-test-limit", "100", "-batch", "32", "-epochs", "1", "-quiet")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "epoch   1/1")
	cfg, err := os.ReadFile(filepath.Join(dir, "run.json"))
	require.NoError(t, err)
	assert.Contains(t, string(cfg), `"warmup_epochs": 0.06666666666666667`)
}

// Digits are not flipped by default; natural images and garments are.
func TestFlipDefault(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flip bool
	}{
		{[]string{"-data", "mnist"}, false},
		{[]string{"-data", "mnist", "-flip"}, true},
		{[]string{"-data", "fashion-mnist"}, true},
		{[]string{"-data", "cifar10"}, true},
	} {
		cfg, _, err := trainConfig(tc.args, io.Discard)
		require.NoError(t, err)
		assert.Equal(t, tc.flip, cfg.Flip, "%v", tc.args)
	}
}

// -h prints the usage and the flags on stdout and exits 0, for every command.
func TestHelp(t *testing.T) {
	for _, cmd := range []string{"train", "eval", "predict", "summary", "bench", "compare"} {
		code, out, errOut := runCLI(cmd, "-h")
		assert.Equal(t, 0, code, cmd)
		assert.Empty(t, errOut, cmd)
		assert.Contains(t, out, "usage: trainer "+cmd, cmd)
		assert.Contains(t, out, "flags:\n", cmd)
	}
	code, out, _ := runCLI("-h")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "commands:")
}

// Ctrl-C is a user's stop, not a failure: exit status 130, no NaN shown, the checkpoint kept.
func TestInterrupt(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(exe, "train", "-out", dir, "-model", "resnet8", "-data", "synthetic", "-epochs", "50",
		"-batch", "32", "-train-limit", "64", "-test-limit", "64", "-workers", "1")
	cmd.Env = append(os.Environ(), "TRAINER_TEST_AS_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	// Interrupt once the first epoch has ended, so there is a checkpoint to keep.
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "epoch   1/50") {
	}
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	go io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, stderr.String())
	assert.Equal(t, 130, exit.ExitCode(), stderr.String())
	assert.NotContains(t, stderr.String(), "NaN")
	assert.Contains(t, stderr.String(), "context canceled (the checkpoint of epoch ")
	_, err = os.Stat(filepath.Join(dir, "checkpoint.ckpt"))
	assert.NoError(t, err)
}

// Every setting of train.Config has its flag, and cli.TrainFlags names it, so that the library's
// errors (Config.Batch) reach the user as the flag they typed (-batch).
func TestEverySettingHasItsFlag(t *testing.T) {
	fs := cli.NewFlagSet("train", "")
	var c train.Config
	registerConfig(fs, &c)
	typ := reflect.TypeOf(c)
	for i := range typ.NumField() {
		field := typ.Field(i).Name
		if field == "InitSHA256" { // recorded by the run, not set by a flag
			continue
		}
		name, ok := cli.TrainFlags[field]
		if assert.True(t, ok, "cli.TrainFlags lacks %s", field) {
			assert.NotNil(t, fs.Lookup(name), "no flag -%s for %s", name, field)
		}
	}
	assert.Len(t, cli.TrainFlags, typ.NumField()-1)
}

// -stop-after runs the first epochs of a longer schedule; -resume continues the same run, with
// the paper's warm-up (a constant rate ended by the training error) kept across the two calls.
func TestStopAfterAndResume(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "-out", dir, "-model", "resnet8", "-data", "synthetic", "-train-limit", "128",
		"-test-limit", "100", "-batch", "32", "-epochs", "3", "-warmup", "2", "-warmup-lr", "0.01",
		"-warmup-until-error", "0.8", "-quiet", "-stop-after", "1"}
	code, out, errOut := runCLI(args...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "epoch   1/3  lr 0.01 ")
	assert.NotContains(t, out, "epoch   2/3")
	assert.Contains(t, out, "stopped after epoch 1 of 3: continue with trainer train -resume -out "+dir)

	code, out, errOut = runCLI("train", "-resume", "-out", dir, "-quiet")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "epoch   3/3")
	assert.NotContains(t, out, "stopped after")
	recs, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	require.NoError(t, err)
	assert.Equal(t, 3, strings.Count(string(recs), "\n"))
}
