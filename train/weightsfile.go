package train

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/resnet"
	"github.com/resnet-go/resnet/train/checkpoint"
	"github.com/resnet-go/resnet/train/weights"
)

// ImageNetMean and ImageNetStd are the channel statistics torchvision normalises ImageNet
// images with (on the 0…1 scale): a weights file of an ImageNet-layout net that does not record
// its own normalisation is taken to use them, as torchvision's pretrained weights do.
var (
	ImageNetMean = []float64{0.485, 0.456, 0.406}
	ImageNetStd  = []float64{0.229, 0.224, 0.225}
)

// WeightsOptions say what a weights file holds where the file does not say it itself (files
// written by ExportWeights record all of it in their metadata; PyTorch's do not).
type WeightsOptions struct {
	Model   string // resnet.ByName's name; "" takes the file's metadata
	Classes int    // 0: the rows of fc.weight
	// Height and Width of the input images; 0 takes the file's metadata, else 224 for
	// ImageNet-layout nets and 32 for CIFAR ones.
	Height, Width int
}

// OpenWeights reads a safetensors or PyTorch .pth file (a state_dict) and returns it as a
// Checkpoint of its model, epoch 0, which Evaluator, Loader and SaveCheckpoint take as they take
// a run's. The input channels are those of conv1.weight. The file must hold exactly the model's
// tensors (BatchNorm counters aside): otherwise the error lists every missing and unexpected key
// and every shape mismatch, as PyTorch's strict load_state_dict does.
func OpenWeights(path string, o WeightsOptions) (*Checkpoint, error) {
	f, err := weights.ReadFile(path)
	if err != nil {
		return nil, err
	}
	meta := f.Metadata
	if o.Model == "" {
		o.Model = meta["model"]
	}
	if o.Model == "" {
		return nil, fmt.Errorf("weights %s name no model: give one (resnet18, lesson-resnet18, resnet20, preresnet20, …)", path)
	}
	fc, ok := f.Get("fc.weight")
	if !ok || len(fc.Shape) != 2 {
		return nil, fmt.Errorf("weights %s: no fc.weight of two dimensions: not a ResNet state_dict", path)
	}
	conv1, ok := f.Get("conv1.weight")
	if !ok || len(conv1.Shape) != 4 {
		return nil, fmt.Errorf("weights %s: no conv1.weight of four dimensions: not a ResNet state_dict", path)
	}
	if o.Classes == 0 {
		o.Classes = fc.Shape[0]
	}
	spec, err := resnet.ByName(o.Model, o.Classes, conv1.Shape[1])
	if err != nil {
		return nil, fmt.Errorf("weights %s: %w", path, err)
	}
	st := RunState{Format: checkpointFormat, Config: Config{Model: spec.Name, Data: meta["data"], Dtype: "float32"},
		Model: spec.Name, Classes: o.Classes}
	h, w, err := inputSize(spec, meta["input"], o)
	if err != nil {
		return nil, fmt.Errorf("weights %s: %w", path, err)
	}
	st.Input = [3]int{conv1.Shape[1], h, w}
	if st.Mean, st.Std, err = normalisation(meta, spec, conv1.Shape[1]); err != nil {
		return nil, fmt.Errorf("weights %s: %w", path, err)
	}
	// Check the file against the model by building it once (one image): this lists every
	// problem at once, before any caller builds a graph at its batch size.
	p, err := graph.NewParams(st.Dtype(), 0)
	if err != nil {
		return nil, err
	}
	if _, err := resnet.Summarize(spec, p, spec.MinInput(), spec.MinInput()); err != nil {
		return nil, err
	}
	if _, err := weights.Load(p, f, true); err != nil {
		return nil, fmt.Errorf("weights %s for %s with %d classes: %w", path, spec.Name, o.Classes, err)
	}
	ck := &Checkpoint{Path: path, State: st, file: &checkpoint.File{}}
	for _, e := range p.All() {
		ck.file.Tensors = append(ck.file.Tensors, toTensor(e.Name, e.Value))
	}
	return ck, nil
}

// inputSize is the image size of a weights file: the options, else its metadata "C,H,W", else
// the default of the net's layout.
func inputSize(spec resnet.Spec, meta string, o WeightsOptions) (h, w int, err error) {
	h, w = 224, 224
	if spec.Stem == resnet.CIFARStem {
		h, w = 32, 32
	}
	if meta != "" {
		parts := strings.Split(meta, ",")
		if len(parts) != 3 {
			return 0, 0, fmt.Errorf("metadata input %q: want C,H,W", meta)
		}
		if h, err = strconv.Atoi(parts[1]); err == nil {
			w, err = strconv.Atoi(parts[2])
		}
		if err != nil {
			return 0, 0, fmt.Errorf("metadata input %q: %w", meta, err)
		}
	}
	if o.Height > 0 {
		h = o.Height
	}
	if o.Width > 0 {
		w = o.Width
	}
	if lo := spec.MinInput(); h < lo || w < lo || h > MaxInputSide || w > MaxInputSide {
		return 0, 0, fmt.Errorf("input %d×%d: %s takes sides from %d to %d", h, w, spec.Name, lo, MaxInputSide)
	}
	return h, w, nil
}

// normalisation is a weights file's channel statistics: its metadata "mean" and "std", else
// ImageNet's for a 3-channel ImageNet-layout net, else none.
func normalisation(meta map[string]string, spec resnet.Spec, c int) (mean, std []float64, err error) {
	if meta["mean"] == "" && meta["std"] == "" {
		if spec.Stem == resnet.ImageNetStem && c == 3 {
			return ImageNetMean, ImageNetStd, nil
		}
		return nil, nil, nil
	}
	if mean, err = floats(meta["mean"]); err == nil {
		std, err = floats(meta["std"])
	}
	if err == nil && (len(mean) != c || len(std) != c) {
		err = fmt.Errorf("%d means and %d stds for %d channels", len(mean), len(std), c)
	}
	for i := range mean {
		if err == nil && (math.IsNaN(mean[i]) || math.IsInf(mean[i], 0) || !(std[i] > 0) || math.IsInf(std[i], 0)) {
			err = fmt.Errorf("channel %d: mean %g and std %g: want finite values and std > 0", i, mean[i], std[i])
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("metadata normalisation: %w", err)
	}
	return mean, std, nil
}

func floats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func joinFloats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

// ExportWeights writes the checkpoint's model as safetensors under torchvision's state_dict names
// (with num_batches_tracked, so that PyTorch's strict load_state_dict takes it), recording the
// model, classes, input size, normalisation and data set in the metadata, so that OpenWeights
// needs no options to read it back. The file is written atomically.
func (c *Checkpoint) ExportWeights(path string) error {
	return weights.WriteFile(path, c.Weights())
}

// Weights returns the checkpoint's model as a weights.File: ExportWeights' content.
func (c *Checkpoint) Weights() *weights.File {
	f := &weights.File{Metadata: map[string]string{
		"format":  "pt",
		"model":   c.State.Model,
		"classes": strconv.Itoa(c.State.Classes),
		"input":   fmt.Sprintf("%d,%d,%d", c.State.Input[0], c.State.Input[1], c.State.Input[2]),
		"epoch":   strconv.Itoa(c.State.Epoch),
	}}
	if c.State.Config.Data != "" {
		f.Metadata["data"] = c.State.Config.Data
	}
	if c.State.Mean != nil {
		f.Metadata["mean"], f.Metadata["std"] = joinFloats(c.State.Mean), joinFloats(c.State.Std)
	}
	for _, t := range c.file.Tensors {
		if strings.HasPrefix(t.Name, velocityPrefix) {
			continue // optimiser state is not part of a model's weights
		}
		wt := weights.Tensor{Name: t.Name, Shape: t.Shape, F32: t.F32, F64: t.F64, Dtype: weights.F32}
		if t.Dtype == checkpoint.Float64 {
			wt.Dtype = weights.F64
		}
		f.Tensors = append(f.Tensors, wt)
		if prefix, ok := strings.CutSuffix(t.Name, "running_var"); ok {
			f.Tensors = append(f.Tensors, weights.Tensor{Name: prefix + "num_batches_tracked", Shape: []int{}, Dtype: weights.I64, I64: []int64{int64(c.State.Step)}})
		}
	}
	return f
}

// readInit reads the tensors of Config.Init: a checkpoint of this trainer, or a weights file.
func readInit(path string) (*weights.File, error) {
	head := make([]byte, len(checkpointMagic))
	if fd, err := os.Open(path); err == nil {
		io.ReadFull(fd, head)
		fd.Close()
	}
	if string(head) == checkpointMagic {
		ck, err := LoadCheckpoint(path)
		if err != nil {
			return nil, err
		}
		return ck.Weights(), nil
	}
	return weights.ReadFile(path)
}

// checkpointMagic starts every checkpoint file (train/checkpoint's format).
const checkpointMagic = "RESNETGO-CKPT\n"

// initFrom copies the tensors of the file at path into p (a freshly initialised model): all of
// them must match, except the classifier (fc.weight, fc.bias) of a file with another class count,
// which keeps its fresh initialisation. It returns a line saying what it did.
func initFrom(path string, p *graph.Params) (string, error) {
	f, err := readInit(path)
	if err != nil {
		return "", fmt.Errorf("Config.Init: %w", err)
	}
	rep, err := weights.Load(p, f, false)
	if err != nil {
		return "", fmt.Errorf("Config.Init %s: %w", path, err)
	}
	var head []string
	rest := &weights.Report{Missing: rep.Missing, Unexpected: rep.Unexpected}
	for _, m := range rep.Mismatched {
		if m.Name == "fc.weight" || m.Name == "fc.bias" {
			head = append(head, fmt.Sprintf("%s %v in the file, %v here", m.Name, m.File, m.Model))
			continue
		}
		rest.Mismatched = append(rest.Mismatched, m)
	}
	if !rest.Clean() {
		return "", fmt.Errorf("Config.Init %s does not fit the model: %s", path, rest)
	}
	msg := fmt.Sprintf("initialised from %s: %d tensors", path, len(rep.Loaded))
	if len(head) > 0 {
		msg += "; the classifier is new (" + strings.Join(head, "; ") + ")"
	}
	return msg, nil
}

// fileSHA256 is the hex SHA-256 of the file at path.
func fileSHA256(path string) (string, error) {
	fd, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("Config.Init: %w", err)
	}
	defer fd.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fd); err != nil {
		return "", fmt.Errorf("Config.Init: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
