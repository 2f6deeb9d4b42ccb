package runlog

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordJSON(t *testing.T) {
	inf := math.Inf(1)
	full := Record{Epoch: 2, Step: 782, LR: 0.1, TrainLoss: 1.25, TrainErr: 0.375, ValLoss: 1.5, ValErr: 0.5,
		TestLoss: 1.75, TestErr: 0.625, ImgPerSec: 812.5, EpochSec: 61.5, WallSec: 123}
	partial := NewRecord(3, 1173)
	partial.TrainLoss, partial.TrainErr, partial.LR = 1e-05, 0.25, 0.01
	diverged := NewRecord(4, 1564)
	diverged.TrainLoss, diverged.ValLoss = inf, -inf
	tests := []struct {
		name string
		rec  Record
		want string
	}{
		{"all measured", full, `{"epoch":2,"step":782,"lr":0.1,"train_loss":1.25,"train_error":0.375,"val_loss":1.5,"val_error":0.5,"test_loss":1.75,"test_error":0.625,"img_per_s":812.5,"epoch_s":61.5,"wall_s":123}`},
		{"NaN is null", partial, `{"epoch":3,"step":1173,"lr":0.01,"train_loss":1e-05,"train_error":0.25,"val_loss":null,"val_error":null,"test_loss":null,"test_error":null,"img_per_s":null,"epoch_s":null,"wall_s":null}`},
		{"Inf is a string", diverged, `{"epoch":4,"step":1564,"lr":null,"train_loss":"+Inf","train_error":null,"val_loss":"-Inf","val_error":null,"test_loss":null,"test_error":null,"img_per_s":null,"epoch_s":null,"wall_s":null}`},
		{"zero is zero", Record{}, `{"epoch":0,"step":0,"lr":0,"train_loss":0,"train_error":0,"val_loss":0,"val_error":0,"test_loss":0,"test_error":0,"img_per_s":0,"epoch_s":0,"wall_s":0}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.rec)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(b))
			var back Record
			require.NoError(t, json.Unmarshal(b, &back))
			assert.Equal(t, fields(tc.rec), fields(back))
		})
	}
}

// fields lists a record's values with NaN replaced by a marker, so that records compare equal
// when their NaNs are in the same places.
func fields(r Record) []any {
	f := func(v float64) any {
		if math.IsNaN(v) {
			return "NaN"
		}
		return v
	}
	return []any{r.Epoch, r.Step, f(r.LR), f(r.TrainLoss), f(r.TrainErr), f(r.ValLoss), f(r.ValErr),
		f(r.TestLoss), f(r.TestErr), f(r.ImgPerSec), f(r.EpochSec), f(r.WallSec)}
}

func TestRecordUnmarshal(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Record
		wantErr string
	}{
		{"absent measurements are NaN", `{"epoch":1,"step":5,"train_loss":2}`, func() Record { r := NewRecord(1, 5); r.TrainLoss = 2; return r }(), ""},
		{"unknown fields ignored", `{"epoch":1,"step":5,"lr":0.1,"momentum":0.9}`, func() Record { r := NewRecord(1, 5); r.LR = 0.1; return r }(), ""},
		{"string that is not Inf", `{"epoch":1,"lr":"fast"}`, Record{}, "cannot unmarshal string"},
		{"not an object", `[1,2]`, Record{}, "cannot unmarshal array"},
		{"truncated", `{"epoch":1,"lr":0.5`, Record{}, "unexpected end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Record
			err := json.Unmarshal([]byte(tc.in), &r)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, fields(tc.want), fields(r))
		})
	}
}

func TestRecordCSVLine(t *testing.T) {
	partial := NewRecord(3, 1173)
	partial.TrainLoss, partial.TrainErr = 0.5, 0.125
	diverged := NewRecord(4, 10)
	diverged.TrainLoss = math.Inf(1)
	tests := []struct {
		name string
		rec  Record
		want string
	}{
		{"NaN is empty", partial, "3,1173,,0.5,0.125,,,,,,,"},
		{"all measured", Record{1, 391, 0.1, 2.25, 0.8, 2, 0.75, 2.5, 0.7, 1000, 60.5, 60.5}, "1,391,0.1,2.25,0.8,2,0.75,2.5,0.7,1000,60.5,60.5"},
		{"Inf", diverged, "4,10,,+Inf,,,,,,,,"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.rec.csvLine())
		})
	}
}
