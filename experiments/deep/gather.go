package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/runlog"
)

const (
	summaryFile = "summary.md"
	recordsFile = "records.csv"
)

// result is what one task left: its status (ok false while unfinished) and its records.
type result struct {
	Task
	status  Status
	ok      bool
	records []runlog.Record
}

// collect reads every task's run directory.
func collect(s Study, out string) ([]result, error) {
	var rs []result
	for _, t := range s.Tasks() {
		dir := filepath.Join(out, "runs", t.Name())
		st, ok, err := readStatus(dir)
		if err != nil {
			return nil, err
		}
		recs, err := runlog.ReadRecords(filepath.Join(dir, train.MetricsFile))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		rs = append(rs, result{Task: t, status: st, ok: ok, records: recs})
	}
	return rs, nil
}

// writeRecords writes every epoch of every task: the file every number of the results comes from.
func writeRecords(rs []result, w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"task", "side", "model", "recipe", "seed", "status", "epoch", "step", "lr", "train_loss", "train_error", "test_loss", "test_error", "epoch_s"})
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 8, 64) }
	for _, r := range rs {
		status := r.status.Status
		if !r.ok {
			status = "unfinished"
		}
		for _, rec := range r.records {
			cw.Write([]string{r.Name(), r.Side, r.Model, r.Recipe, strconv.FormatInt(r.Seed, 10), status,
				strconv.Itoa(rec.Epoch), strconv.Itoa(rec.Step), g(rec.LR), g(rec.TrainLoss), g(rec.TrainErr),
				g(rec.TestLoss), g(rec.TestErr), g(rec.EpochSec)})
		}
	}
	cw.Flush()
	return cw.Error()
}

// gather writes the results of the finished tasks into dir: records.csv (every epoch of every
// task), study.json (the grid), summary.md and study.png.
func gather(s Study, out, dir string, stdout io.Writer) error {
	rs, err := collect(s, out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := runlog.WriteAtomic(filepath.Join(dir, recordsFile), func(w io.Writer) error { return writeRecords(rs, w) }); err != nil {
		return err
	}
	// The grid beside its results, so that they say what ran without the runs' directory.
	js, _ := json.MarshalIndent(s, "", "  ")
	if err := runlog.WriteFileAtomic(filepath.Join(dir, studyFile), append(js, '\n')); err != nil {
		return err
	}
	last := s.Epochs
	if s.StopAfter > 0 {
		last = s.StopAfter
	}
	png, err := figure(s, rs, last)
	if err != nil {
		return err
	}
	if err := runlog.WriteFileAtomic(filepath.Join(dir, figureFile), png); err != nil {
		return err
	}
	md := summary(s, rs)
	if err := runlog.WriteFileAtomic(filepath.Join(dir, summaryFile), []byte(md)); err != nil {
		return err
	}
	fmt.Fprint(stdout, md)
	return nil
}
