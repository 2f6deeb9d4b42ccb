package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
	"github.com/resnet-go/resnet/resnet"
)

const usage = `usage: trainer <command> [flags]

commands:
  train     train a model on a data set (no flags: ResNet-20 on the built-in Fashion-MNIST subset)
  eval      a checkpoint's loss, error and confusion matrix on a data set
  predict   class probabilities of images (PNG, IDX or CIFAR records) from a checkpoint
  import    a PyTorch .pth or safetensors state_dict into a checkpoint or safetensors file
  export    a checkpoint's model as safetensors, for PyTorch's load_state_dict
  models    the models, with their parameters and default input
  summary   layer table, parameter count, MACs and a forward pass of a model
  bench     time training steps (or inference with -infer) on random data
  compare   bench against the PyTorch peer on the same workloads, alternating

Run "trainer <command> -h" for its flags.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return cli.ExitUsage
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return cli.ExitOK
	}
	var err error
	switch args[0] {
	case "train":
		err = trainCmd(args[1:], stdout, stderr)
	case "eval":
		err = evalCmd(args[1:], stdout, stderr)
	case "predict":
		err = predictCmd(args[1:], stdout)
	case "summary":
		err = summary(args[1:], stdout)
	case "bench":
		err = bench(args[1:], stdout)
	case "compare":
		err = compare(args[1:], stdout)
	case "models":
		err = modelsCmd(args[1:], stdout)
	case "import":
		err = importCmd(args[1:], stdout)
	case "export":
		err = exportCmd(args[1:], stdout)
	default:
		err = cli.Usagef("unknown command %q (want train, eval, predict, import, export, models, summary, bench or compare)", args[0])
	}
	return cli.Status("trainer "+args[0], err, stderr)
}

// modelFlags are the flags every command takes to choose a model.
type modelFlags struct {
	model   string
	classes int
	input   string
	dtype   string
	seed    int64
}

func (m *modelFlags) register(fs *cli.FlagSet, model string) {
	fs.StringVar(&m.model, "model", model, "resnet18…resnet152, resnet20…resnet110 (CIFAR, depth 6n+2), lesson-resnet18…lesson-resnet152 (the lesson's code: conv biases), "+
		"preresnet18…preresnet152, preresnet20…preresnet164 (pre-activation, He et al. 2016b; CIFAR depth 6n+2 basic or 9n+2 bottleneck), plain18…, plain20…, preplain20…")
	fs.IntVar(&m.classes, "classes", 0, "number of classes (default 1000 for ImageNet nets, 10 for CIFAR nets)")
	fs.StringVar(&m.input, "input", "", "input shape N,C,H,W (default 1,3,224,224 for ImageNet nets, 1,3,32,32 for CIFAR nets)")
	fs.StringVar(&m.dtype, "dtype", "float32", "float32 or float64")
	fs.Int64Var(&m.seed, "seed", 1, "seed of the weights and the random input")
}

// resolve turns the flags into a spec, an input shape and a dtype.
func (m *modelFlags) resolve() (resnet.Spec, [4]int, tensor.Dtype, error) {
	var shape [4]int
	entry, err := resnet.Lookup(m.model)
	if err != nil {
		return resnet.Spec{}, shape, tensor.Dtype{}, cli.UsageError{Err: err}
	}
	classes, input := m.classes, m.input
	if classes == 0 {
		classes = entry.Classes
	}
	if input == "" {
		input = fmt.Sprintf("1,%d,%d,%d", entry.Input[0], entry.Input[1], entry.Input[2])
	}
	if shape, err = parseShape(input); err != nil {
		return resnet.Spec{}, shape, tensor.Dtype{}, cli.UsageError{Err: err}
	}
	spec, err := resnet.ByName(m.model, classes, shape[1])
	if err != nil {
		return resnet.Spec{}, shape, tensor.Dtype{}, cli.UsageError{Err: err}
	}
	if min := spec.MinInput(); shape[2] < min || shape[3] < min {
		return resnet.Spec{}, shape, tensor.Dtype{}, cli.UsageError{Err: fmt.Errorf("-input %s: %s needs H and W of at least %d", input, spec.Name, min)}
	}
	var dt tensor.Dtype
	switch m.dtype {
	case "float32":
		dt = tensor.Float32
	case "float64":
		dt = tensor.Float64
	default:
		return resnet.Spec{}, shape, tensor.Dtype{}, cli.UsageError{Err: fmt.Errorf("-dtype %q: want float32 or float64", m.dtype)}
	}
	return spec, shape, dt, nil
}

// parseShape reads "N,C,H,W" with four positive integers.
func parseShape(s string) ([4]int, error) {
	var shape [4]int
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return shape, fmt.Errorf("-input %q: want four comma-separated sizes N,C,H,W", s)
	}
	for i, p := range parts {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || v < 1 {
			return shape, fmt.Errorf("-input %q: size %q is not a positive integer", s, p)
		}
		shape[i] = v
	}
	return shape, nil
}
