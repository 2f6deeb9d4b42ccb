package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/resnet"
)

// modelsCmd lists the registered models with their parameter counts and default inputs.
func modelsCmd(args []string, stdout io.Writer) error {
	fs := cli.NewFlagSet("models", "trainer models [flags]")
	plain := fs.Bool("plain", false, "list the plain twins too")
	if err := fs.ParseNoArgs(args, stdout); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tfamily\tparameters\tclasses\tinput")
	for _, e := range resnet.Models() {
		if e.Plain && !*plain {
			continue
		}
		spec, err := resnet.ByName(e.Name, e.Classes, e.Input[0])
		if err != nil {
			return err
		}
		p, err := graph.NewParams(tensor.Float32, 1)
		if err != nil {
			return err
		}
		sum, err := resnet.Summarize(spec, p, e.Input[1], e.Input[2])
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d×%d×%d\n", e.Name, e.Family, sum.Params, e.Classes, e.Input[0], e.Input[1], e.Input[2])
	}
	fmt.Fprintln(tw, "resnetD, plainD\tcifar\t\t10\t3×32×32\t(any depth D = 6n+2)")
	fmt.Fprintln(tw, "preresnetD, preplainD\tpreact-cifar\t\t10\t3×32×32\t(any depth D = 6n+2: basic, or 9n+2: bottleneck; basic below 164 if both)")
	return tw.Flush()
}
