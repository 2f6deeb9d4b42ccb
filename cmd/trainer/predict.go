package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
	"github.com/resnet-go/resnet/train/data"
)

// imageExts are the files a directory argument contributes.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true}

func predictCmd(args []string, stdout io.Writer) error {
	fs := cli.NewFlagSet("predict", "trainer predict (-checkpoint CKPT | -weights FILE) [flags] IMAGE|DIR|RECORDS...")
	var src sourceFlags
	src.register(fs)
	format := fs.String("format", "", "image (PNG or JPEG), idx (an IDX image file), cifar10 or cifar100 (default: image for .png, .jpg and .jpeg files and directories, idx otherwise)")
	top := fs.Int("top", 3, "classes to show per image")
	limit := fs.Int("limit", 20, "records to show per IDX/CIFAR file (0: all)")
	resize := fs.Int("resize", 0, "scale images so that the shorter side is this, then crop the centre to the model's input (0: the crop's size; an image of the input's size is taken as it is)")
	invert := fs.Bool("invert", false, "invert images (dark on light photos for a model trained on light-on-dark data such as Fashion-MNIST)")
	asJSON := fs.Bool("json", false, "print one JSON object per image, for scripts")
	files, err := fs.Parse(args, stdout) // flags may follow the files
	if err != nil {
		return err
	}
	switch {
	case len(files) == 0:
		return cli.Usagef("no images given (PNG or JPEG files or directories, or IDX/CIFAR files with -format)")
	case *top < 1:
		return cli.Usagef("-top %d: want at least 1", *top)
	case *limit < 0:
		return cli.Usagef("-limit %d: want 0 or more", *limit)
	case *resize < 0:
		return cli.Usagef("-resize %d: want 0 or more", *resize)
	}
	switch *format {
	case "", "image", "png", "idx", "cifar10", "cifar100":
	default:
		return cli.Usagef("-format %q: want image, idx, cifar10 or cifar100", *format)
	}
	ck, err := src.open()
	if err != nil {
		return err
	}
	in := ck.State.Input
	c, h, w := in[0], in[1], in[2]
	imgs := &data.Images{Name: "predict", C: c, H: h, W: w, NumClasses: ck.State.Classes}
	var names []string // one per image, for the output
	var labels []int
	tr := data.ImageTransform{C: c, H: h, W: w, Resize: *resize, Invert: *invert}
	for _, f := range files {
		paths, fmtName, err := expand(f, *format)
		if err != nil {
			return err
		}
		if fmtName == "image" {
			for _, p := range paths {
				pix, err := data.ReadImage(p, tr)
				if err != nil {
					return err
				}
				imgs.Pix = append(imgs.Pix, pix...)
				names, labels = append(names, p), append(labels, -1)
			}
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
	if len(names) == 0 {
		return fmt.Errorf("no images found in %s", strings.Join(files, ", "))
	}
	imgs.Labels = make([]uint8, len(names))
	preds, err := ck.Classify(imgs, min(*top, ck.State.Classes))
	if err != nil {
		return err
	}
	classes := data.ClassNames(ck.State.Config.Data, ck.State.Classes)
	enc := json.NewEncoder(stdout)
	for i, pr := range preds {
		if *asJSON {
			p := prediction{File: names[i]}
			for r, j := range pr.Classes {
				p.Top = append(p.Top, classProb{Class: j, Name: pr.Names[r], Prob: pr.Probs[r]})
			}
			if labels[i] >= 0 {
				p.Label = &labels[i]
			}
			if err := enc.Encode(p); err != nil {
				return err
			}
			continue
		}
		var sb strings.Builder
		fmt.Fprintf(&sb, "%s:", names[i])
		for r := range pr.Classes {
			fmt.Fprintf(&sb, "  %s %.1f%%", pr.Names[r], 100*pr.Probs[r])
		}
		if labels[i] >= 0 {
			fmt.Fprintf(&sb, "  (label: %s)", classes[labels[i]])
		}
		fmt.Fprintln(stdout, sb.String())
	}
	return nil
}

// prediction is one line of predict -json.
type prediction struct {
	File  string      `json:"file"`
	Top   []classProb `json:"top"`
	Label *int        `json:"label,omitempty"` // records with labels (CIFAR)
}

type classProb struct {
	Class int     `json:"class"`
	Name  string  `json:"name"`
	Prob  float64 `json:"prob"`
}

// expand turns an argument into the files to read and their format: a directory gives its PNG
// and JPEG files in name order.
func expand(arg, format string) ([]string, string, error) {
	fi, err := os.Stat(arg)
	if err != nil {
		return nil, "", fmt.Errorf("predict: %w", err)
	}
	if fi.IsDir() {
		if format != "" && format != "image" && format != "png" {
			return nil, "", cli.Usagef("%s is a directory: -format %s reads files", arg, format)
		}
		entries, err := os.ReadDir(arg)
		if err != nil {
			return nil, "", fmt.Errorf("predict: %w", err)
		}
		var paths []string
		for _, e := range entries {
			if !e.IsDir() && imageExts[strings.ToLower(filepath.Ext(e.Name()))] {
				paths = append(paths, filepath.Join(arg, e.Name()))
			}
		}
		return paths, "image", nil
	}
	switch {
	case format == "png" || format == "image":
		return []string{arg}, "image", nil
	case format != "":
		return []string{arg}, format, nil
	case imageExts[strings.ToLower(filepath.Ext(arg))]:
		return []string{arg}, "image", nil
	}
	return []string{arg}, "idx", nil
}
