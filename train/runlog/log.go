package runlog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// File names inside a run directory.
const (
	JSONLName = "metrics.jsonl"
	CSVName   = "metrics.csv"
)

// Log appends records to dir/metrics.jsonl and dir/metrics.csv (header: CSVHeader). It is not safe
// for concurrent use; a training loop writes one record per epoch from one goroutine.
type Log struct {
	jsonlPath, csvPath string
	jsonl, csv         *os.File
	records            []Record
}

// Open opens the metrics files of the run in dir, creating dir if needed.
//
// keepEpochs = 0 starts a fresh run: both files are truncated. keepEpochs = k > 0 resumes after
// epoch k: the records with Epoch ≤ k already in metrics.jsonl are kept and later ones dropped
// (they belong to a run that crashed after logging an epoch but before checkpointing it), both
// files are rewritten from the kept records (each atomically, through a temporary file and a
// rename), and new records are appended after them.
func Open(dir string, keepEpochs int) (*Log, error) {
	if keepEpochs < 0 {
		return nil, fmt.Errorf("runlog: opening %s: keepEpochs is %d, want ≥ 0", dir, keepEpochs)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("runlog: %w", err)
	}
	l := &Log{jsonlPath: filepath.Join(dir, JSONLName), csvPath: filepath.Join(dir, CSVName)}
	if keepEpochs > 0 {
		all, err := ReadRecords(l.jsonlPath)
		if err != nil {
			return nil, fmt.Errorf("%w (resuming after epoch %d)", err, keepEpochs)
		}
		for _, r := range all {
			if r.Epoch <= keepEpochs {
				l.records = append(l.records, r)
			}
		}
	}

	var jb, cb bytes.Buffer
	cb.WriteString(CSVHeader + "\n")
	for _, r := range l.records {
		line, err := r.jsonLine()
		if err != nil {
			return nil, fmt.Errorf("runlog: %s: %w", l.jsonlPath, err)
		}
		jb.Write(line)
		cb.WriteString(r.csvLine() + "\n")
	}
	if err := WriteFileAtomic(l.jsonlPath, jb.Bytes()); err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(l.csvPath, cb.Bytes()); err != nil {
		return nil, err
	}

	var err error
	if l.jsonl, err = os.OpenFile(l.jsonlPath, os.O_WRONLY|os.O_APPEND, 0); err != nil {
		return nil, fmt.Errorf("runlog: %w", err)
	}
	if l.csv, err = os.OpenFile(l.csvPath, os.O_WRONLY|os.O_APPEND, 0); err != nil {
		l.jsonl.Close()
		return nil, fmt.Errorf("runlog: %w", err)
	}
	return l, nil
}

// Records returns a copy of all records so far, kept from a previous run and written since, in
// order; the curves are drawn from them.
func (l *Log) Records() []Record {
	return append([]Record(nil), l.records...)
}

// Write appends r to both files. Each line goes out in a single write, so a crash leaves at most a
// torn last line, which ReadRecords ignores.
func (l *Log) Write(r Record) error {
	if l.jsonl == nil {
		return fmt.Errorf("runlog: writing epoch %d to %s: log is closed", r.Epoch, l.jsonlPath)
	}
	line, err := r.jsonLine()
	if err != nil {
		return fmt.Errorf("runlog: %s: %w", l.jsonlPath, err)
	}
	if _, err := l.jsonl.Write(line); err != nil {
		return fmt.Errorf("runlog: writing epoch %d: %w", r.Epoch, err)
	}
	if _, err := l.csv.WriteString(r.csvLine() + "\n"); err != nil {
		return fmt.Errorf("runlog: writing epoch %d: %w", r.Epoch, err)
	}
	l.records = append(l.records, r)
	return nil
}

// Close closes both files; later calls do nothing.
func (l *Log) Close() error {
	if l.jsonl == nil {
		return nil
	}
	err := errors.Join(l.jsonl.Close(), l.csv.Close())
	l.jsonl, l.csv = nil, nil
	if err != nil {
		return fmt.Errorf("runlog: closing %s: %w", filepath.Dir(l.jsonlPath), err)
	}
	return nil
}

// ReadRecords reads a metrics.jsonl. Blank lines are skipped, and so is a final line that lacks
// its newline and does not parse: it is the torn write of a crash, not damage to the log. Any
// other line that does not parse is an error naming the file and line.
func ReadRecords(path string) ([]Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("runlog: %w", err)
	}
	return parseRecords(data, path)
}

// parseRecords reads the lines of a metrics.jsonl; path names it in errors.
func parseRecords(data []byte, path string) ([]Record, error) {
	var recs []Record
	for n := 1; len(data) > 0; n++ {
		line, rest, complete := bytes.Cut(data, []byte("\n"))
		data = rest
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r Record
		if err := r.UnmarshalJSON(line); err != nil {
			if !complete {
				break
			}
			return nil, fmt.Errorf("runlog: %s:%d: malformed record: %w", path, n, err)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// WriteFileAtomic writes data to path as WriteAtomic does.
func WriteFileAtomic(path string, data []byte) error {
	return WriteAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteAtomic writes path through a temporary file in the same directory and a rename, so that a
// crash (or a reader) sees either the old file or the new one, never a mix. Every result file of
// a run and of the experiments is written this way.
func WriteAtomic(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("runlog: writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriter(tmp)
	if err = write(bw); err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("runlog: writing %s: %w", path, err)
	}
	// CreateTemp makes the file private (0600); these are ordinary output files.
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("runlog: writing %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("runlog: writing %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("runlog: writing %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("runlog: writing %s: %w", path, err)
	}
	return nil
}
