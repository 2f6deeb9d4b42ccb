package runlog

import (
	"bytes"
	"math"
	"testing"
)

// FuzzRecords: metrics.jsonl (read back on resume) is refused with an error, or parsed into
// records whose lines read back the same, NaN and ±Inf included.
func FuzzRecords(f *testing.F) {
	r := NewRecord(1, 391)
	r.TrainLoss, r.TestLoss = 0.5, math.Inf(1)
	line, err := r.jsonLine()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(line)
	f.Add(append(line, `{"epoch": 2, "train_loss": "-Inf"`...)) // a torn last line
	f.Add([]byte("{}\n\n{\"epoch\": 1e400}\n"))
	f.Add([]byte("not json\n{}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := parseRecords(b, "fuzz.jsonl")
		if err != nil {
			return
		}
		var out bytes.Buffer
		for _, r := range recs {
			l, err := r.jsonLine()
			if err != nil {
				t.Fatalf("an accepted record does not encode: %v", err)
			}
			out.Write(l)
		}
		back, err := parseRecords(out.Bytes(), "again.jsonl")
		if err != nil {
			t.Fatalf("written records do not read back: %v", err)
		}
		if len(back) != len(recs) {
			t.Fatalf("%d records read back, want %d", len(back), len(recs))
		}
		for i := range recs {
			if a, b := recs[i].csvLine(), back[i].csvLine(); a != b {
				t.Fatalf("record %d reads back as %s, want %s", i, b, a)
			}
		}
	})
}
