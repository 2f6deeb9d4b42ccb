package train

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/resnet-go/resnet/train/data"
)

// DataSets returns the names Config.Data accepts (see data.Open).
func DataSets() []string { return strings.Split(data.Names, ", ") }

// Config is everything that defines a training run. It is written to the run directory
// (run.json) and into every checkpoint, and `trainer train -config run.json` reads it back, so a
// run can be repeated or continued from its own record.
type Config struct {
	Model   string `json:"model"`              // resnet20, plain56, resnet18, … (resnet.ByName)
	Data    string `json:"data"`               // builtin, fashion-mnist, mnist, cifar10, cifar100, synthetic
	DataDir string `json:"data_dir,omitempty"` // where the data set's files are ("" = its default)
	// Val holds out that many training examples (a seeded draw) as a validation set.
	Val int `json:"val"`
	// TrainLimit uses only the first n training examples (0 = all), for quick runs.
	TrainLimit int `json:"train_limit,omitempty"`
	// TestLimit evaluates on the first n test examples only (0 = all), for quick runs.
	TestLimit int `json:"test_limit,omitempty"`

	Epochs    int `json:"epochs"`
	Batch     int `json:"batch"`
	EvalBatch int `json:"eval_batch"`

	LR           float64   `json:"lr"`
	Schedule     string    `json:"schedule"`             // step, cosine or constant
	Milestones   []float64 `json:"milestones,omitempty"` // fractions of the run, for step
	Gamma        float64   `json:"gamma,omitempty"`      // factor at each milestone, for step
	WarmupEpochs float64   `json:"warmup_epochs"`        // linear warm-up, in epochs
	// WarmupLR, when positive, holds the rate there during the warm-up instead of ramping it up
	// linearly. WarmupUntilErr, when positive, ends that warm-up early, after the first step at
	// which the training error of the last WarmupWindow batches is below it (WarmupEpochs is then
	// the longest it lasts). The paper's ResNet-110: 0.01 until the error is below 80%.
	WarmupLR       float64 `json:"warmup_lr,omitempty"`
	WarmupUntilErr float64 `json:"warmup_until_error,omitempty"`
	Momentum       float64 `json:"momentum"`
	Nesterov       bool    `json:"nesterov"`
	WeightDecay    float64 `json:"weight_decay"`
	NoDecay1D      bool    `json:"no_decay_1d"` // no weight decay on BN γ, β and biases

	// The paper's augmentation: Pad zero pixels on each side then a random crop back to size
	// (0 = no crop), and a random horizontal flip.
	Pad       int  `json:"pad"`
	Flip      bool `json:"flip"`
	Normalize bool `json:"normalize"` // per-channel mean and std of the training set

	// Init starts the run from the weights of a file (safetensors, PyTorch .pth or a checkpoint)
	// instead of a random initialisation: every tensor of the model must be in it, except a
	// classifier (fc) of another class count, which keeps its fresh initialisation. InitSHA256 is
	// the file's digest, recorded when the run starts and checked when it is repeated.
	Init       string `json:"init,omitempty"`
	InitSHA256 string `json:"init_sha256,omitempty"`
	// Freeze keeps the first layers as Init gave them: "stem" (conv1, bn1), or "layerK" (the
	// stem and stages 1 to K).
	Freeze string `json:"freeze,omitempty"`

	ZeroInitResidual bool   `json:"zero_init_residual"`
	Seed             int64  `json:"seed"`
	Dtype            string `json:"dtype"` // float32 or float64
}

// Bounds of Config's settings beyond which no run makes sense and the arithmetic of the schedule
// (epochs × steps) or the padded images (side + 2 × pad) would overflow or exhaust memory.
const (
	MaxEpochs = 100_000
	MaxPad    = 64 // the paper pads 4; Run also refuses a pad wider than the images
)

// WarmupWindow is how many of the latest batches Config.WarmupUntilErr averages: one batch's
// error is too noisy to end a warm-up on.
const WarmupWindow = 10

// DefaultConfig is the built-in default run (`trainer train` with no flags): a CIFAR-style
// ResNet-20 on the embedded Fashion-MNIST subset, with the paper's recipe scaled to a few minutes
// on two cores.
func DefaultConfig() Config {
	return Config{
		Model:        "resnet20",
		Data:         "builtin",
		Epochs:       15,
		Batch:        64,
		EvalBatch:    500,
		LR:           0.1,
		Schedule:     "cosine",
		Milestones:   []float64{0.5, 0.75},
		Gamma:        0.1,
		WarmupEpochs: 1,
		Momentum:     0.9,
		Nesterov:     true,
		WeightDecay:  5e-4,
		NoDecay1D:    true,
		Pad:          4,
		Flip:         true,
		Normalize:    true,
		Seed:         1,
		Dtype:        "float32",
	}
}

// Validate reports the first setting that cannot work, naming it as the trainer's flag does.
func (c Config) Validate() error {
	switch {
	case c.Model == "":
		return fmt.Errorf("Config.Model is empty")
	case !slices.Contains(DataSets(), c.Data):
		return fmt.Errorf("Config.Data %q: want one of %s", c.Data, strings.Join(DataSets(), ", "))
	case c.Epochs < 1 || c.Epochs > MaxEpochs:
		return fmt.Errorf("Config.Epochs %d: want 1 to %d", c.Epochs, MaxEpochs)
	case c.Batch < 2:
		return fmt.Errorf("Config.Batch %d: want at least 2 (BatchNorm needs more than one value per channel)", c.Batch)
	case c.EvalBatch < 1:
		return fmt.Errorf("Config.EvalBatch %d: want at least 1", c.EvalBatch)
	case c.Val < 0:
		return fmt.Errorf("Config.Val %d: want 0 or more", c.Val)
	case c.TrainLimit < 0:
		return fmt.Errorf("Config.TrainLimit %d: want 0 or more", c.TrainLimit)
	case c.TestLimit < 0:
		return fmt.Errorf("Config.TestLimit %d: want 0 or more", c.TestLimit)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("Config.LR %g: want a positive learning rate", c.LR)
	case !(c.Momentum >= 0 && c.Momentum < 1): // NaN fails every comparison
		return fmt.Errorf("Config.Momentum %g: want 0 ≤ momentum < 1", c.Momentum)
	case c.Nesterov && c.Momentum == 0:
		return fmt.Errorf("Config.Nesterov needs Config.Momentum > 0")
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return fmt.Errorf("Config.WeightDecay %g: want 0 or more", c.WeightDecay)
	case !(c.WarmupEpochs >= 0 && c.WarmupEpochs < float64(c.Epochs)):
		return fmt.Errorf("Config.WarmupEpochs %g epochs: want 0 ≤ warm-up < Config.Epochs %d", c.WarmupEpochs, c.Epochs)
	case !(c.WarmupLR >= 0) || math.IsInf(c.WarmupLR, 0):
		return fmt.Errorf("Config.WarmupLR %g: want 0 (a linear ramp) or a positive rate", c.WarmupLR)
	case c.WarmupLR > 0 && c.WarmupEpochs == 0:
		return fmt.Errorf("Config.WarmupLR %g needs Config.WarmupEpochs > 0 (the warm-up's length, or its limit with Config.WarmupUntilErr)", c.WarmupLR)
	case !(c.WarmupUntilErr >= 0 && c.WarmupUntilErr < 1):
		return fmt.Errorf("Config.WarmupUntilErr %g: want a training error between 0 (off) and 1", c.WarmupUntilErr)
	case c.WarmupUntilErr > 0 && c.WarmupLR == 0:
		return fmt.Errorf("Config.WarmupUntilErr %g needs Config.WarmupLR, the rate of the warm-up it ends", c.WarmupUntilErr)
	case c.Pad < 0 || c.Pad > MaxPad:
		return fmt.Errorf("Config.Pad %d: want 0 to %d", c.Pad, MaxPad)
	case c.Dtype != "float32" && c.Dtype != "float64":
		return fmt.Errorf("Config.Dtype %q: want float32 or float64", c.Dtype)
	}
	if _, err := c.FrozenPrefixes(); err != nil {
		return err
	}
	if c.Freeze != "" && c.Init == "" {
		return fmt.Errorf("Config.Freeze %s needs Config.Init: frozen random weights would never learn", c.Freeze)
	}
	s := Schedule{Kind: c.Schedule, Base: c.LR, Milestones: c.Milestones, Gamma: c.Gamma, Total: 2}
	if err := s.Validate(); err != nil {
		return fmt.Errorf("Config.Schedule: %w", err)
	}
	return nil
}

// ReadConfig reads a run configuration from a JSON file (run.json of an earlier run, or one
// written by hand). Settings the file leaves out keep their values in base; unknown keys are an
// error, so a misspelt setting is not silently ignored.
func ReadConfig(path string, base Config) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return base, fmt.Errorf("reading config: %w", err)
	}
	defer f.Close()
	return decodeConfig(f, path, base)
}

// decodeConfig reads one JSON object of settings from r over base; path names it in errors.
func decodeConfig(r io.Reader, path string, base Config) (Config, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	c := base
	if err := dec.Decode(&c); err != nil {
		return base, fmt.Errorf("config %s: %w", path, err)
	}
	// A second object (two files concatenated, an editor's paste) would otherwise be ignored.
	if err := dec.Decode(&json.RawMessage{}); err != io.EOF {
		return base, fmt.Errorf("config %s: data after the settings object", path)
	}
	return c, nil
}

// DiffConfig names the settings that differ between an earlier configuration and the present
// one, by their JSON keys, with both values ("lr 0.1 there, 0.2 now; seed 1 there, 2 now").
func DiffConfig(old, now Config) string {
	var diffs []string
	vo, vn := reflect.ValueOf(old), reflect.ValueOf(now)
	t := vo.Type()
	for i := range t.NumField() {
		a, b := vo.Field(i).Interface(), vn.Field(i).Interface()
		if !reflect.DeepEqual(a, b) {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			diffs = append(diffs, fmt.Sprintf("%s %v there, %v now", name, a, b))
		}
	}
	if len(diffs) == 0 {
		return "no visible difference"
	}
	return strings.Join(diffs, "; ")
}

// FrozenPrefixes turns Freeze into the parameter-name prefixes SGDConfig.Frozen takes.
func (c Config) FrozenPrefixes() ([]string, error) {
	switch {
	case c.Freeze == "":
		return nil, nil
	case c.Freeze == "stem":
		return []string{"conv1.", "bn1."}, nil
	case strings.HasPrefix(c.Freeze, "layer"):
		k, err := strconv.Atoi(strings.TrimPrefix(c.Freeze, "layer"))
		if err == nil && k >= 1 && k <= 4 {
			out := []string{"conv1.", "bn1."}
			for i := 1; i <= k; i++ {
				out = append(out, fmt.Sprintf("layer%d.", i))
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("Config.Freeze %q: want stem or layer1 … layer4 (the stem and the stages up to it)", c.Freeze)
}
