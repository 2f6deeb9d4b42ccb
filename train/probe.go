package train

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"

	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/train/data"
	"github.com/resnet-go/resnet/train/runlog"
)

// Kinds of probe measurement.
const (
	// InputGrad is ‖∂L/∂x‖₂ for the input x of a block: the gradient that reaches the block from
	// the loss, ∂L/∂y·(1 + ∂F/∂x) in a residual block, ∂L/∂y·∂F/∂x in a plain one.
	InputGrad = "input_grad"
	// WeightGrad is ‖∂L/∂W‖₂ for a convolution's weights.
	WeightGrad = "weight_grad"
	// ResponseStd is the standard deviation of a BatchNorm's output, before the ReLU or the
	// residual addition (the paper's Fig. 7 measures it for every 3×3 layer).
	ResponseStd = "response_std"
)

// ProbeRow is one measurement of one layer at one step.
type ProbeRow struct {
	Step  int    // optimiser steps done before the measurement (the batch's step is Step+1)
	Epoch int    // 0 for a measurement outside a run
	Kind  string // InputGrad, WeightGrad or ResponseStd
	Layer string // block or layer name, e.g. "layer2.0" or "layer2.0.conv1.weight"
	Depth int    // position among the rows of its kind, from the input
	Value float64
}

// GradientProbe records per-layer gradient norms and response statistics during a run. Use it as
// Options.Observer of a run whose trainer is built with graph.Config.Probe (Options.ProbeEvery
// does both), or call Measure directly on a trainer after Compute.
type GradientProbe struct {
	Every int // measure at the first step and then every Every steps
	Rows  []ProbeRow
}

// Observe implements Observer.
func (p *GradientProbe) Observe(t *Trainer, epoch, step int, _ *data.Batch) error {
	if step != 1 && (p.Every < 1 || step%p.Every != 0) {
		return nil
	}
	rows, err := Measure(t, epoch, step-1)
	if err != nil {
		return err
	}
	p.Rows = append(p.Rows, rows...)
	return nil
}

// Measure reads the probe values of t's last Compute: the gradient with respect to every block
// input and every convolution weight (the values gorgonia.Grad's nodes produced), and the
// standard deviation of every BatchNorm response. t must be built with graph.Config.Probe.
func Measure(t *Trainer, epoch, step int) ([]ProbeRow, error) {
	inputs, responses := t.BlockInputGradients(), t.Responses()
	if inputs == nil {
		return nil, fmt.Errorf("train: probe: the trainer was not built with graph.Config.Probe")
	}
	var rows []ProbeRow
	add := func(kind, name string, depth int, v float64) {
		rows = append(rows, ProbeRow{Step: step, Epoch: epoch, Kind: kind, Layer: name, Depth: depth, Value: v})
	}
	for i, r := range inputs {
		add(InputGrad, r.Name, i, norm(r.Value))
	}
	depth := 0
	for _, bd := range t.Params() {
		if bd.Param.Value.Dims() != 4 {
			continue // conv weights only
		}
		g, err := t.Gradient(bd)
		if err != nil {
			return nil, err
		}
		add(WeightGrad, bd.Param.Name, depth, norm(g))
		depth++
	}
	return append(rows, ResponseRows(responses, epoch, step)...), nil
}

// ResponseRows turns BatchNorm responses (Trainer.Responses, Evaluator.Responses) into ResponseStd
// rows.
func ResponseRows(responses []Reading, epoch, step int) []ProbeRow {
	rows := make([]ProbeRow, len(responses))
	for i, r := range responses {
		rows[i] = ProbeRow{Step: step, Epoch: epoch, Kind: ResponseStd, Layer: r.Name, Depth: i, Value: std(r.Value)}
	}
	return rows
}

func norm(t tensor.Tensor) float64 {
	var s float64
	switch d := t.Data().(type) {
	case []float32:
		for _, v := range d {
			s += float64(v) * float64(v)
		}
	case []float64:
		for _, v := range d {
			s += v * v
		}
	}
	return math.Sqrt(s)
}

// std is the population standard deviation of all of t's elements.
func std(t tensor.Tensor) float64 {
	var s, s2 float64
	var n int
	switch d := t.Data().(type) {
	case []float32:
		n = len(d)
		for _, v := range d {
			s += float64(v)
		}
		m := s / float64(n)
		for _, v := range d {
			s2 += (float64(v) - m) * (float64(v) - m)
		}
	case []float64:
		n = len(d)
		for _, v := range d {
			s += v
		}
		m := s / float64(n)
		for _, v := range d {
			s2 += (v - m) * (v - m)
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return math.Sqrt(s2 / float64(n))
}

// ProbeFile is the name of the probe's CSV in a run directory.
const ProbeFile = "probe.csv"

var probeHeader = []string{"step", "epoch", "kind", "layer", "depth", "value"}

// WriteProbeCSV writes rows as CSV (header step,epoch,kind,layer,depth,value) through a temporary
// file, so path holds either the old rows or all the new ones.
func WriteProbeCSV(path string, rows []ProbeRow) error {
	return runlog.WriteAtomic(path, func(w io.Writer) error { return writeProbe(w, rows) })
}

func writeProbe(w io.Writer, rows []ProbeRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(probeHeader); err != nil {
		return err
	}
	for _, r := range rows {
		rec := []string{strconv.Itoa(r.Step), strconv.Itoa(r.Epoch), r.Kind, r.Layer, strconv.Itoa(r.Depth),
			strconv.FormatFloat(r.Value, 'g', -1, 64)}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadProbeCSV reads a file written by WriteProbeCSV.
func ReadProbeCSV(path string) ([]ProbeRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseProbe(f, path)
}

// parseProbe reads a probe file from r; path names it in errors.
func parseProbe(r io.Reader, path string) ([]ProbeRow, error) {
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// slices.Equal, not a comparison of printed slices: "kind layer" in one field printed the same
	// as two fields and let a short row through (found by FuzzProbeCSV).
	if len(recs) == 0 || !slices.Equal(recs[0], probeHeader) {
		return nil, fmt.Errorf("%s: not a probe file (header %v)", path, probeHeader)
	}
	rows := make([]ProbeRow, 0, len(recs)-1)
	for i, rec := range recs[1:] {
		step, e1 := strconv.Atoi(rec[0])
		epoch, e2 := strconv.Atoi(rec[1])
		depth, e3 := strconv.Atoi(rec[4])
		v, e4 := strconv.ParseFloat(rec[5], 64)
		if e1 != nil || e2 != nil || e3 != nil || e4 != nil {
			return nil, fmt.Errorf("%s: line %d is malformed: %v", path, i+2, rec)
		}
		rows = append(rows, ProbeRow{Step: step, Epoch: epoch, Kind: rec[2], Layer: rec[3], Depth: depth, Value: v})
	}
	return rows, nil
}
