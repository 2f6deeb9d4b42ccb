package cli

import (
	"regexp"
)

// TrainFlags names the flag of `trainer train` (and of the experiment programs, which share
// them) that sets each field of train.Config.
var TrainFlags = map[string]string{
	"Model": "model", "Data": "data", "DataDir": "data-dir", "Val": "val", "TrainLimit": "train-limit",
	"TestLimit": "test-limit", "Epochs": "epochs", "Batch": "batch", "EvalBatch": "eval-batch", "LR": "lr",
	"Schedule": "schedule", "Milestones": "milestones", "Gamma": "gamma", "WarmupEpochs": "warmup",
	"WarmupLR": "warmup-lr", "WarmupUntilErr": "warmup-until-error",
	"Momentum": "momentum", "Nesterov": "nesterov", "WeightDecay": "wd", "NoDecay1D": "no-decay-1d", "Pad": "pad",
	"Flip": "flip", "Normalize": "normalize", "ZeroInitResidual": "zero-init-residual", "Seed": "seed",
	"Dtype": "dtype", "Init": "init", "Freeze": "freeze",
}

var configField = regexp.MustCompile(`Config\.([A-Za-z0-9]+)`)

// Flagged returns err with the library's names of settings (Config.Batch) replaced by the flags
// that set them (-batch): the library speaks of its types, the command line of its flags.
// errors.Is and errors.As still see err.
func Flagged(err error) error {
	if err == nil {
		return nil
	}
	msg := configField.ReplaceAllStringFunc(err.Error(), func(m string) string {
		if f, ok := TrainFlags[m[len("Config."):]]; ok {
			return "-" + f
		}
		return m
	})
	if msg == err.Error() {
		return err
	}
	return flagged{msg, err}
}

type flagged struct {
	msg string
	err error
}

func (f flagged) Error() string { return f.msg }
func (f flagged) Unwrap() error { return f.err }
