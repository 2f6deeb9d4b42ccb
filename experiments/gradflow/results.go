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
	"github.com/resnet-go/resnet/train/runlog"
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
	if err := runlog.WriteFileAtomic(filepath.Join(s.Out, "gradflow.csv"), all.Bytes()); err != nil {
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
	if err := runlog.WriteFileAtomic(filepath.Join(s.Out, "ratios.csv"), rat.Bytes()); err != nil {
		return err
	}

	meta := struct {
		Settings settings `json:"settings"`
		Machine  string   `json:"machine"`
	}{s, machine}
	b, _ := json.MarshalIndent(meta, "", "  ")
	if err := runlog.WriteFileAtomic(filepath.Join(s.Out, "settings.json"), append(b, '\n')); err != nil {
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
	if err := runlog.WriteFileAtomic(filepath.Join(s.Out, "summary.md"), md.Bytes()); err != nil {
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

// replot redraws the figures of a finished experiment from its files.
func replot(dir string) error {
	var meta struct {
		Settings settings `json:"settings"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "settings.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, "settings.json"), err)
	}
	s := meta.Settings
	s.Out = dir
	path := filepath.Join(dir, "gradflow.csv")
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var results []netResult
	for i, rec := range recs[1:] {
		depth, e1 := strconv.Atoi(rec[1])
		step, e2 := strconv.Atoi(rec[5])
		index, e3 := strconv.Atoi(rec[8])
		v, e4 := strconv.ParseFloat(rec[9], 64)
		if e1 != nil || e2 != nil || e3 != nil || e4 != nil {
			return fmt.Errorf("%s: line %d is malformed", path, i+2)
		}
		if len(results) == 0 || results[len(results)-1].Model != rec[0] {
			results = append(results, netResult{Model: rec[0], Depth: depth, Plain: rec[2] == "true"})
		}
		r := &results[len(results)-1]
		r.Rows = append(r.Rows, row{Phase: rec[3], Mode: rec[4],
			ProbeRow: train.ProbeRow{Step: step, Kind: rec[6], Layer: rec[7], Depth: index, Value: v}})
	}
	return plotAll(s, results)
}
