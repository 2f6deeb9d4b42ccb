package main

import (
	"fmt"
	"io"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/data"
)

func evalCmd(args []string, stdout io.Writer) error {
	fs := cli.NewFlagSet("eval", "trainer eval [flags]")
	ckptPath := fs.String("checkpoint", "", "checkpoint file (a run's checkpoint.ckpt) or run directory")
	name := fs.String("data", "", "data set (default: the one the checkpoint was trained on)")
	dir := fs.String("data-dir", "", "directory of the data set's files (default: the checkpoint's)")
	split := fs.String("split", "test", "test or train")
	batch := fs.Int("batch", 500, "batch size")
	if err := fs.ParseNoArgs(args, stdout); err != nil {
		return err
	}
	switch {
	case *ckptPath == "":
		return cli.UsageError{Err: fmt.Errorf("-checkpoint is required")}
	case *split != "test" && *split != "train":
		return cli.UsageError{Err: fmt.Errorf("-split %q: want test or train", *split)}
	case *batch < 1:
		return cli.UsageError{Err: fmt.Errorf("-batch %d: want at least 1", *batch)}
	}
	ck, err := loadCheckpoint(*ckptPath)
	if err != nil {
		return err
	}
	cfg := ck.State.Config
	if *name == "" {
		*name = cfg.Data
		if *dir == "" {
			*dir = cfg.DataDir
		}
	}
	ds, err := data.Open(*name, *dir, *split)
	if err != nil {
		return err
	}
	if err := ck.Fits(ds); err != nil {
		return err
	}
	ev, err := ck.Evaluator(min(*batch, ds.Len()))
	if err != nil {
		return err
	}
	defer ev.Close()
	l, err := ck.Loader(ds, min(*batch, ds.Len()))
	if err != nil {
		return err
	}
	m, err := train.Evaluate(ev, l)
	if err != nil {
		return fmt.Errorf("%s %s: %w", *name, *split, err)
	}
	fmt.Fprintf(stdout, "%s (%s, epoch %d) on %s %s: %d images\n", ck.State.Model, ck.Path, ck.State.Epoch, *name, *split, m.N)
	fmt.Fprintf(stdout, "loss %.4f  error %.2f%%  accuracy %.2f%%\n", m.Loss, 100*m.Err, 100*(1-m.Err))
	writeConfusion(stdout, m.Confusion, classNames(*name, len(m.Confusion)))
	return nil
}

// loadCheckpoint accepts a checkpoint file or the run directory holding one.
func loadCheckpoint(path string) (*train.Checkpoint, error) { return train.LoadCheckpoint(path) }

// writeConfusion prints the confusion matrix with true classes as rows and per-class error.
func writeConfusion(w io.Writer, conf [][]int, names []string) {
	fmt.Fprintln(w, "confusion matrix (rows: true class, columns: predicted class):")
	width := 6
	for _, row := range conf {
		for _, v := range row {
			width = max(width, len(fmt.Sprint(v))+1)
		}
	}
	label := 0
	for _, n := range names {
		label = max(label, len(n))
	}
	fmt.Fprintf(w, "%*s", label+4, "")
	for j := range conf {
		fmt.Fprintf(w, "%*d", width, j)
	}
	fmt.Fprintf(w, "%*s\n", 9, "error")
	for i, row := range conf {
		total := 0
		for _, v := range row {
			total += v
		}
		fmt.Fprintf(w, "%2d %-*s ", i, label, names[i])
		for _, v := range row {
			fmt.Fprintf(w, "%*d", width, v)
		}
		if total > 0 {
			fmt.Fprintf(w, "%8.2f%%\n", 100*float64(total-row[i])/float64(total))
		} else {
			fmt.Fprintf(w, "%9s\n", "-")
		}
	}
}

// classNames returns the class names of the known data sets, numbers otherwise.
// classNames names the classes of a checkpoint's data set.
func classNames(dataset string, k int) []string { return data.ClassNames(dataset, k) }
