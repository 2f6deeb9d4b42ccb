package main

import (
	"fmt"
	"io"
	"math/rand"
	"text/tabwriter"

	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/resnet"
	"github.com/resnet-go/resnet/train"
)

func summary(args []string, stdout io.Writer) error {
	fs := cli.NewFlagSet("summary", "trainer summary [flags]")
	var mf modelFlags
	mf.register(fs, "resnet18")
	if err := fs.ParseNoArgs(args, stdout); err != nil {
		return err
	}
	spec, shape, dt, err := mf.resolve()
	if err != nil {
		return err
	}
	p, err := graph.NewParams(dt, mf.seed)
	if err != nil {
		return err
	}
	e, err := train.NewEvaluator(spec, p, shape[0], shape[2], shape[3])
	if err != nil {
		return err
	}
	defer e.Close()
	sum := resnet.Tabulate(e.Model.Builder.Layers())

	fmt.Fprintf(stdout, "%s: %s stem, %s blocks %v, widths %v, shortcut %v\n", spec.Name, spec.Stem,
		spec.Block, spec.Blocks, spec.Widths, shortcutName(spec))
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "layer\top\toutput\tparams\tMACs")
	for _, l := range sum.Layers {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%d\t%d\n", l.Name, l.Op, l.Out, l.Params, l.MACs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "params: %d\n", sum.Params)
	fmt.Fprintf(stdout, "MACs: %d per example (%.3f G)\n", sum.MACs, float64(sum.MACs)/1e9)

	x := randomInput(dt, shape, mf.seed)
	logits, err := e.Logits(x)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "output shape: %v\n", []int(logits.Shape()))
	return nil
}

func shortcutName(s resnet.Spec) string {
	if s.Plain {
		return "none (plain twin)"
	}
	return s.Shortcut.String()
}

// randomInput is a seeded N(0,1) batch.
func randomInput(dt tensor.Dtype, shape [4]int, seed int64) *tensor.Dense {
	rng := rand.New(rand.NewSource(seed))
	n := shape[0] * shape[1] * shape[2] * shape[3]
	if dt == tensor.Float64 {
		d := make([]float64, n)
		for i := range d {
			d[i] = rng.NormFloat64()
		}
		return tensor.New(tensor.WithShape(shape[:]...), tensor.WithBacking(d))
	}
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(rng.NormFloat64())
	}
	return tensor.New(tensor.WithShape(shape[:]...), tensor.WithBacking(d))
}
