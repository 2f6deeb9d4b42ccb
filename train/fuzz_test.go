package train

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzConfig: a run configuration (run.json, -config) is either refused or read back the same
// after writing it out, so `trainer train -config` repeats exactly what it accepted.
func FuzzConfig(f *testing.F) {
	def, err := json.Marshal(DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(def)
	f.Add([]byte(`{"model": "resnet56", "epochs": 6, "milestones": [0.5, 0.75]}`))
	f.Add([]byte(`{"model": "resnet20"} {"model": "resnet56"}`))
	f.Add([]byte(`{"epochs": 9223372036854775807, "pad": 100000}`))
	f.Add([]byte(`{"learning_rate": 0.1}`))
	f.Add([]byte(`{"milestones": [1e400]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeConfig(bytes.NewReader(b), "fuzz.json", DefaultConfig())
		if err != nil || c.Validate() != nil {
			return
		}
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("an accepted config does not encode: %v", err)
		}
		back, err := decodeConfig(bytes.NewReader(again), "again.json", Config{})
		if err != nil {
			t.Fatalf("an accepted config does not read back: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(normal(c), normal(back)) {
			t.Fatalf("read back %+v, want %+v", back, c)
		}
	})
}

// normal makes an empty list and a missing one compare equal, as they mean the same.
func normal(c Config) Config {
	if len(c.Milestones) == 0 {
		c.Milestones = nil
	}
	return c
}

// FuzzProbeCSV: a probe.csv (read back on resume) is refused or parsed into rows that write
// out and read back the same.
func FuzzProbeCSV(f *testing.F) {
	var good bytes.Buffer
	if err := writeProbe(&good, []ProbeRow{{Step: 1, Epoch: 1, Kind: "input_grad", Layer: "layer1.0", Depth: 1, Value: 0.5}}); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	f.Add([]byte("step,epoch\n1,2\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := parseProbe(bytes.NewReader(b), "fuzz.csv")
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := writeProbe(&out, rows); err != nil {
			t.Fatalf("accepted rows do not write: %v", err)
		}
		back, err := parseProbe(&out, "again.csv")
		if err != nil {
			t.Fatalf("written rows do not read back: %v", err)
		}
		if len(back) != len(rows) {
			t.Fatalf("%d rows read back, want %d", len(back), len(rows))
		}
	})
}
