package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
	"github.com/resnet-go/resnet/train"
)

// sourceFlags choose the model of eval and predict: a checkpoint (a run's, or one written by
// import) or a weights file (safetensors or PyTorch .pth) with what the file may not say itself.
type sourceFlags struct {
	checkpoint, weights, model, size string
	classes                          int
}

func (s *sourceFlags) register(fs *cli.FlagSet) {
	fs.StringVar(&s.checkpoint, "checkpoint", "", "checkpoint file (a run's checkpoint.ckpt, or one written by import) or run directory")
	fs.StringVar(&s.weights, "weights", "", "weights file instead of a checkpoint: safetensors or PyTorch .pth (a state_dict)")
	registerWeightsFlags(fs, &s.model, &s.classes, &s.size)
}

// registerWeightsFlags adds the flags that say what a weights file holds.
func registerWeightsFlags(fs *cli.FlagSet, model *string, classes *int, size *string) {
	fs.StringVar(model, "model", "", "with a weights file: the model (default: the file's metadata), e.g. resnet18, lesson-resnet18, resnet20, preresnet20")
	fs.IntVar(classes, "classes", 0, "with a weights file: the classes (default: the rows of fc.weight)")
	fs.StringVar(size, "size", "", "with a weights file: input height,width (default: the file's metadata, else 224,224 for ImageNet nets, 32,32 for CIFAR nets)")
}

// weightsOptions turns the flags into train.WeightsOptions.
func weightsOptions(model string, classes int, size string) (train.WeightsOptions, error) {
	o := train.WeightsOptions{Model: model, Classes: classes}
	if classes < 0 {
		return o, cli.Usagef("-classes %d: want a positive number (0: from the file)", classes)
	}
	if size != "" {
		h, w, ok := strings.Cut(size, ",")
		var err1, err2 error
		if !ok {
			w = h
		}
		o.Height, err1 = strconv.Atoi(strings.TrimSpace(h))
		o.Width, err2 = strconv.Atoi(strings.TrimSpace(w))
		if err1 != nil || err2 != nil || o.Height < 1 || o.Width < 1 {
			return o, cli.Usagef("-size %q: want HEIGHT,WIDTH (or one size for both)", size)
		}
	}
	return o, nil
}

// open loads the chosen model.
func (s *sourceFlags) open() (*train.Checkpoint, error) {
	switch {
	case s.checkpoint != "" && s.weights != "":
		return nil, cli.Usagef("-checkpoint and -weights: give one")
	case s.checkpoint != "":
		if s.model != "" || s.classes != 0 || s.size != "" {
			return nil, cli.Usagef("-model, -classes and -size go with -weights; a checkpoint records its model")
		}
		return train.LoadCheckpoint(s.checkpoint)
	case s.weights != "":
		o, err := weightsOptions(s.model, s.classes, s.size)
		if err != nil {
			return nil, err
		}
		return train.OpenWeights(s.weights, o)
	}
	return nil, cli.Usagef("-checkpoint or -weights is required")
}

// importCmd: trainer import FILE -model NAME -o OUT.
func importCmd(args []string, stdout io.Writer) error {
	fs := cli.NewFlagSet("import", "trainer import FILE.pth|FILE.safetensors [-model NAME] [-classes N] [-size H,W] -o OUT")
	out := fs.String("o", "", "output: safetensors when it ends in .safetensors, otherwise a checkpoint (which eval, predict and train -init read)")
	var model, size string
	var classes int
	registerWeightsFlags(fs, &model, &classes, &size)
	files, err := fs.Parse(args, stdout)
	if err != nil {
		return err
	}
	switch {
	case len(files) != 1:
		return cli.Usagef("want one weights file, got %d", len(files))
	case *out == "":
		return cli.Usagef("-o is required")
	}
	if err := refuseExisting(*out); err != nil {
		return err
	}
	o, err := weightsOptions(model, classes, size)
	if err != nil {
		return err
	}
	ck, err := train.OpenWeights(files[0], o)
	if err != nil {
		return err
	}
	if err := writeModel(ck, *out); err != nil {
		return err
	}
	in := ck.State.Input
	fmt.Fprintf(stdout, "%s (%d classes, %d×%d×%d input) from %s → %s\n", ck.State.Model, ck.State.Classes, in[0], in[1], in[2], files[0], *out)
	return nil
}

// exportCmd: trainer export -checkpoint DIR -o model.safetensors.
func exportCmd(args []string, stdout io.Writer) error {
	fs := cli.NewFlagSet("export", "trainer export -checkpoint CKPT -o MODEL.safetensors")
	ckptPath := fs.String("checkpoint", "", "checkpoint file or run directory")
	out := fs.String("o", "", "safetensors file to write (PyTorch: model.load_state_dict(safetensors.torch.load_file(…)), strict)")
	if err := fs.ParseNoArgs(args, stdout); err != nil {
		return err
	}
	switch {
	case *ckptPath == "":
		return cli.Usagef("-checkpoint is required")
	case *out == "":
		return cli.Usagef("-o is required")
	case !strings.HasSuffix(*out, ".safetensors"):
		return cli.Usagef("-o %s: export writes safetensors; name the file .safetensors", *out)
	}
	if err := refuseExisting(*out); err != nil {
		return err
	}
	ck, err := train.LoadCheckpoint(*ckptPath)
	if err != nil {
		return err
	}
	if err := ck.ExportWeights(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s (epoch %d) → %s\n", ck.State.Model, ck.State.Epoch, *out)
	return nil
}

// writeModel writes ck as safetensors or as a checkpoint, by the name of path.
func writeModel(ck *train.Checkpoint, path string) error {
	if strings.HasSuffix(path, ".safetensors") {
		return ck.ExportWeights(path)
	}
	return ck.Save(path)
}

// refuseExisting keeps import and export from replacing a file: nothing already written is lost.
func refuseExisting(path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists: remove it or choose another -o", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
