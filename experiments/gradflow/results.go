package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/resnet-go/resnet/train"
)

// writeResults writes every number measured (gradflow.csv), the first/last-block gradient ratios
// (ratios.csv), a Markdown summary and the figures.
func writeResults(s settings, results []netResult, machine string) error {
	var all bytes.Buffer
	cw := csv.NewWriter(&all)
	cw.Write([]string{"model", "depth", "plain", "phase", "bn_mode", "step", "kind", "layer", "index", "value"})
	for _, r := range results {
		for _, x := range r.Rows {
			cw.Write([]string{r.Model, strconv.Itoa(r.Depth), strconv.FormatBool(r.Plain), x.Phase, x.Mode, strconv.Itoa(x.Step),
				x.Kind, x.Layer, strconv.Itoa(x.Depth), strconv.FormatFloat(x.Value, 'g', -1, 64)})
		}
	}
	cw.Flush()
	if err := writeFile(filepath.Join(s.Out, "gradflow.csv"), all.Bytes()); err != nil {
		return err
	}

	var rat bytes.Buffer
	cw = csv.NewWriter(&rat)
	cw.Write([]string{"model", "depth", "plain", "blocks", "ratio_init", "ratio_trained", "first_init", "last_init", "first_trained", "last_trained", "loss_first_step", "loss_last_step", "diverged_at_step", "seconds"})
	for _, r := range results {
		fi, li := ends(r, "init")
		ft, lt := ends(r, "trained")
		cw.Write([]string{r.Model, strconv.Itoa(r.Depth), strconv.FormatBool(r.Plain), strconv.Itoa(blocks(r)),
			g(fi / li), g(ft / lt), g(fi), g(li), g(ft), g(lt), g(r.Losses[0]), g(r.Losses[len(r.Losses)-1]), strconv.Itoa(r.Diverged), g(r.Seconds)})
	}
	cw.Flush()
	if err := writeFile(filepath.Join(s.Out, "ratios.csv"), rat.Bytes()); err != nil {
		return err
	}

	meta := struct {
		Settings settings `json:"settings"`
		Machine  string   `json:"machine"`
	}{s, machine}
	b, _ := json.MarshalIndent(meta, "", "  ")
	if err := writeFile(filepath.Join(s.Out, "settings.json"), append(b, '\n')); err != nil {
		return err
	}

	var md bytes.Buffer
	fmt.Fprintf(&md, "Gradient flow on %s: one fixed batch of %d, at initialisation and after %d steps (lr %g, momentum 0.9, wd %g, warm-up %d steps). Machine: %s.\n\n",
		s.Data, s.Batch, s.Steps, s.LR, s.WD, s.Warmup, machine)
	md.WriteString("| net | params | blocks | ‖∂L/∂x‖ first/last block, init | after training | loss, first → last step | time |\n|---|---:|---:|---:|---:|---|---:|\n")
	diverged := ""
	for _, r := range results {
		fi, li := ends(r, "init")
		ft, lt := ends(r, "trained")
		fmt.Fprintf(&md, "| %s | %d | %d | %.3g | %.3g | %.3f → %.3f | %.0f s |\n", r.Model, r.Params, blocks(r), fi/li, ft/lt,
			r.Losses[0], r.Losses[len(r.Losses)-1], r.Seconds)
		if r.Diverged > 0 {
			diverged += fmt.Sprintf("\n%s diverged: its loss was not finite at step %d; it was measured with the weights before that step.\n", r.Model, r.Diverged)
		}
	}
	md.WriteString(diverged)
	if err := writeFile(filepath.Join(s.Out, "summary.md"), md.Bytes()); err != nil {
		return err
	}
	return plotAll(s, results)
}

func g(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// ends returns ‖∂L/∂x‖ at the first and at the last block input, in a phase.
func ends(r netResult, phase string) (first, last float64) {
	lastDepth := -1
	for _, x := range r.Rows {
		if x.Phase != phase || x.Kind != train.InputGrad {
			continue
		}
		if x.Depth == 0 {
			first = x.Value
		}
		if x.Depth > lastDepth {
			lastDepth, last = x.Depth, x.Value
		}
	}
	return first, last
}

func blocks(r netResult) int {
	n := 0
	for _, x := range r.Rows {
		if x.Phase == "init" && x.Kind == train.InputGrad {
			n++
		}
	}
	return n
}

// writeFile writes through a temporary file so a reader never sees half a result.
func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
