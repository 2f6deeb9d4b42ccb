package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/data"
	"github.com/resnet-go/resnet/train/runlog"
)

func evalCmd(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("eval", "trainer eval (-checkpoint CKPT | -weights FILE) [flags]")
	var src sourceFlags
	src.register(fs)
	name := fs.String("data", "", "data set (default: the one the checkpoint was trained on)")
	dir := fs.String("data-dir", "", "directory of the data set's files (default: the checkpoint's)")
	split := fs.String("split", "test", "test or train")
	batch := fs.Int("batch", 500, "batch size")
	asJSON := fs.Bool("json", false, "print the results as one JSON object, for scripts")
	if err := fs.ParseNoArgs(args, stdout); err != nil {
		return err
	}
	switch {
	case *split != "test" && *split != "train":
		return cli.Usagef("-split %q: want test or train", *split)
	case *batch < 1:
		return cli.Usagef("-batch %d: want at least 1", *batch)
	}
	ck, err := src.open()
	if err != nil {
		return err
	}
	cfg := ck.State.Config
	if *name == "" {
		if cfg.Data == "" {
			return cli.Usagef("%s records no data set: give -data", ck.Path)
		}
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
	// Progress on stderr (a bar on a terminal, erased when done; in a log a line every 30 s).
	prog := runlog.NewProgress(stderr, "eval "+*name+" "+*split, l.Batches())
	m, err := train.EvaluateProgress(ev, l, func(done, _ int, loss float64) { prog.Update(done, loss) })
	prog.Vanish()
	if err != nil {
		return fmt.Errorf("%s %s: %w", *name, *split, err)
	}
	classes := data.ClassNames(*name, len(m.Confusion))
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(evalResult{Model: ck.State.Model, Source: ck.Path, Epoch: ck.State.Epoch, Data: *name, Split: *split,
			N: m.N, Loss: m.Loss, Top1Error: m.Err, Top1Accuracy: 1 - m.Err, Top5Error: m.Top5Err, Top5Accuracy: 1 - m.Top5Err,
			Classes: classes, Confusion: m.Confusion})
	}
	fmt.Fprintf(stdout, "%s (%s, epoch %d) on %s %s: %d images\n", ck.State.Model, ck.Path, ck.State.Epoch, *name, *split, m.N)
	fmt.Fprintf(stdout, "loss %.4f  error %.2f%%  accuracy %.2f%%  top-5 accuracy %.2f%%\n", m.Loss, 100*m.Err, 100*(1-m.Err), 100*(1-m.Top5Err))
	writeConfusion(stdout, m.Confusion, classes)
	return nil
}

// evalResult is eval -json's output.
type evalResult struct {
	Model        string   `json:"model"`
	Source       string   `json:"source"`
	Epoch        int      `json:"epoch"`
	Data         string   `json:"data"`
	Split        string   `json:"split"`
	N            int      `json:"n"`
	Loss         float64  `json:"loss"`
	Top1Error    float64  `json:"top1_error"`
	Top1Accuracy float64  `json:"top1_accuracy"`
	Top5Error    float64  `json:"top5_error"`
	Top5Accuracy float64  `json:"top5_accuracy"`
	Classes      []string `json:"classes"`
	Confusion    [][]int  `json:"confusion"` // [true class][predicted class]
}

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
