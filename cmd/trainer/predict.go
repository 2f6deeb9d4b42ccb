package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/data"
)

func predictCmd(args []string, stdout io.Writer) error {
	fs := cli.NewFlagSet("predict", "trainer predict -checkpoint CKPT [flags] FILE...")
	ckptPath := fs.String("checkpoint", "", "checkpoint file (a run's checkpoint.ckpt) or run directory")
	format := fs.String("format", "", "png, idx (an IDX image file), cifar10 or cifar100 (default: png for .png files, idx otherwise)")
	top := fs.Int("top", 3, "classes to show per image")
	limit := fs.Int("limit", 20, "records to show per IDX/CIFAR file (0: all)")
	files, err := fs.Parse(args, stdout) // flags may follow the files
	if err != nil {
		return err
	}
	switch {
	case *ckptPath == "":
		return cli.UsageError{Err: fmt.Errorf("-checkpoint is required")}
	case len(files) == 0:
		return cli.UsageError{Err: fmt.Errorf("no images given (PNG files, or IDX/CIFAR files with -format)")}
	case *top < 1:
		return cli.UsageError{Err: fmt.Errorf("-top %d: want at least 1", *top)}
	case *limit < 0:
		return cli.UsageError{Err: fmt.Errorf("-limit %d: want 0 or more", *limit)}
	}
	switch *format {
	case "", "png", "idx", "cifar10", "cifar100":
	default:
		return cli.UsageError{Err: fmt.Errorf("-format %q: want png, idx, cifar10 or cifar100", *format)}
	}
	ck, err := loadCheckpoint(*ckptPath)
	if err != nil {
		return err
	}
	in := ck.State.Input
	c, h, w := in[0], in[1], in[2]
	imgs := &data.Images{Name: "predict", C: c, H: h, W: w, NumClasses: ck.State.Classes}
	var names []string // one per image, for the output
	var labels []int
	for _, f := range files {
		fmtName := *format
		if fmtName == "" {
			fmtName = "idx"
			if strings.EqualFold(filepath.Ext(f), ".png") {
				fmtName = "png"
			}
		}
		if fmtName == "png" {
			pix, err := data.ReadPNG(f, c, h, w)
			if err != nil {
				return err
			}
			imgs.Pix = append(imgs.Pix, pix...)
			names, labels = append(names, f), append(labels, -1)
			continue
		}
		pix, ls, err := data.ReadRecords(f, fmtName, c, h, w)
		if err != nil {
			return err
		}
		n := len(ls)
		if *limit > 0 {
			n = min(n, *limit)
		}
		imgs.Pix = append(imgs.Pix, pix[:n*c*h*w]...)
		for i := 0; i < n; i++ {
			names, labels = append(names, fmt.Sprintf("%s#%d", f, i)), append(labels, ls[i])
		}
	}
	imgs.Labels = make([]uint8, len(names))
	batch := min(len(names), 256)
	ev, err := ck.Evaluator(batch)
	if err != nil {
		return err
	}
	defer ev.Close()
	l, err := ck.Loader(imgs, batch)
	if err != nil {
		return err
	}
	classes := classNames(ck.State.Config.Data, ck.State.Classes)
	it := l.Epoch(0)
	defer it.Close()
	logp := make([]float64, ck.State.Classes)
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		logits, err := ev.Logits(b.X)
		if err != nil {
			return err
		}
		for i := 0; i < b.N; i++ {
			idx := b.Indices[i]
			train.LogSoftmax(logits, i, logp)
			order := make([]int, len(logp))
			for j := range order {
				order[j] = j
			}
			sort.SliceStable(order, func(a, b int) bool { return logp[order[a]] > logp[order[b]] })
			var sb strings.Builder
			fmt.Fprintf(&sb, "%s:", names[idx])
			for _, j := range order[:min(*top, len(order))] {
				fmt.Fprintf(&sb, "  %s %.1f%%", classes[j], 100*math.Exp(logp[j]))
			}
			if labels[idx] >= 0 {
				fmt.Fprintf(&sb, "  (label: %s)", classes[labels[idx]])
			}
			fmt.Fprintln(stdout, sb.String())
		}
	}
	return nil
}
