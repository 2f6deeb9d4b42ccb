package runlog

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Record is one epoch of a run. Fields that were not measured are NaN (written as null in JSON and
// empty in CSV).
type Record struct {
	Epoch     int     `json:"epoch"` // 1-based
	Step      int     `json:"step"`  // optimiser steps done so far
	LR        float64 `json:"lr"`    // learning rate at the end of the epoch
	TrainLoss float64 `json:"train_loss"`
	TrainErr  float64 `json:"train_error"` // fraction 0..1
	ValLoss   float64 `json:"val_loss"`
	ValErr    float64 `json:"val_error"`
	TestLoss  float64 `json:"test_loss"`
	TestErr   float64 `json:"test_error"`
	ImgPerSec float64 `json:"img_per_s"` // training throughput of the epoch
	EpochSec  float64 `json:"epoch_s"`   // wall time of the epoch (train + eval)
	WallSec   float64 `json:"wall_s"`    // wall time since the run started (summed over resumed segments)
}

// NewRecord returns a Record for epoch with every measurement NaN, so that a caller sets only what
// it measured and the rest reads as "not measured" rather than as zero.
func NewRecord(epoch, step int) Record {
	nan := math.NaN()
	return Record{Epoch: epoch, Step: step, LR: nan, TrainLoss: nan, TrainErr: nan, ValLoss: nan, ValErr: nan,
		TestLoss: nan, TestErr: nan, ImgPerSec: nan, EpochSec: nan, WallSec: nan}
}

// num is a float64 whose JSON form is null for NaN and a string for ±Inf, which JSON numbers
// cannot express.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	v := float64(n)
	switch {
	case math.IsNaN(v):
		return []byte("null"), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

func (n *num) UnmarshalJSON(b []byte) error {
	switch s := string(b); s {
	case "null":
		*n = num(math.NaN())
		return nil
	case `"+Inf"`, `"Inf"`:
		*n = num(math.Inf(1))
		return nil
	case `"-Inf"`:
		*n = num(math.Inf(-1))
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*n = num(v)
	return nil
}

// recordJSON mirrors Record with NaN-aware floats; it is a separate type so that marshalling it
// does not recurse into Record's methods.
type recordJSON struct {
	Epoch     int `json:"epoch"`
	Step      int `json:"step"`
	LR        num `json:"lr"`
	TrainLoss num `json:"train_loss"`
	TrainErr  num `json:"train_error"`
	ValLoss   num `json:"val_loss"`
	ValErr    num `json:"val_error"`
	TestLoss  num `json:"test_loss"`
	TestErr   num `json:"test_error"`
	ImgPerSec num `json:"img_per_s"`
	EpochSec  num `json:"epoch_s"`
	WallSec   num `json:"wall_s"`
}

// MarshalJSON writes NaN as null and ±Inf as "+Inf"/"-Inf", since encoding/json rejects both.
func (r Record) MarshalJSON() ([]byte, error) {
	return json.Marshal(recordJSON{r.Epoch, r.Step, num(r.LR), num(r.TrainLoss), num(r.TrainErr),
		num(r.ValLoss), num(r.ValErr), num(r.TestLoss), num(r.TestErr), num(r.ImgPerSec),
		num(r.EpochSec), num(r.WallSec)})
}

// UnmarshalJSON reads what MarshalJSON writes; a measurement that is null or absent becomes NaN,
// so that a record from an older writer with fewer fields does not read as zeros.
func (r *Record) UnmarshalJSON(b []byte) error {
	n := num(math.NaN())
	j := recordJSON{LR: n, TrainLoss: n, TrainErr: n, ValLoss: n, ValErr: n, TestLoss: n, TestErr: n,
		ImgPerSec: n, EpochSec: n, WallSec: n}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Record{j.Epoch, j.Step, float64(j.LR), float64(j.TrainLoss), float64(j.TrainErr),
		float64(j.ValLoss), float64(j.ValErr), float64(j.TestLoss), float64(j.TestErr),
		float64(j.ImgPerSec), float64(j.EpochSec), float64(j.WallSec)}
	return nil
}

// CSVHeader is the first line of metrics.csv, naming the Record fields in order with their JSON names.
const CSVHeader = "epoch,step,lr,train_loss,train_error,val_loss,val_error,test_loss,test_error,img_per_s,epoch_s,wall_s"

// csvLine is r as a metrics.csv line, without the newline.
func (r Record) csvLine() string {
	f := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join([]string{strconv.Itoa(r.Epoch), strconv.Itoa(r.Step), f(r.LR), f(r.TrainLoss),
		f(r.TrainErr), f(r.ValLoss), f(r.ValErr), f(r.TestLoss), f(r.TestErr), f(r.ImgPerSec),
		f(r.EpochSec), f(r.WallSec)}, ",")
}

// jsonLine is r as a metrics.jsonl line, with the newline.
func (r Record) jsonLine() ([]byte, error) {
	b, err := r.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding epoch %d: %w", r.Epoch, err)
	}
	return append(b, '\n'), nil
}
