package data_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/resnet-go/resnet/train/data"
)

func TestChannelStats(t *testing.T) {
	for _, tc := range []struct {
		name      string
		set       *data.Images
		mean, std []float64
	}{
		{
			// Two images of 2 channels × 1×2: channel 0 is half black, half white; channel 1 is
			// constant 51 = 0.2 × 255.
			name: "two channels",
			set: &data.Images{C: 2, H: 1, W: 2, NumClasses: 2,
				Pix: []uint8{0, 255, 51, 51, 255, 0, 51, 51}, Labels: []uint8{0, 1}},
			mean: []float64{0.5, 0.2}, std: []float64{0.5, 0},
		},
		{
			// Values 0, 51, 102 (0, 0.2, 0.4): mean 0.2, population std sqrt(0.08/3).
			name: "population std",
			set:  &data.Images{C: 1, H: 1, W: 3, NumClasses: 1, Pix: []uint8{0, 51, 102}, Labels: []uint8{0}},
			mean: []float64{0.2}, std: []float64{math.Sqrt(0.08 / 3)},
		},
		{
			name: "empty",
			set:  &data.Images{C: 3, H: 2, W: 2, NumClasses: 1},
			mean: []float64{0, 0, 0}, std: []float64{0, 0, 0},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mean, std := data.ChannelStats(tc.set)
			assert.InDeltaSlice(t, tc.mean, mean, 1e-12)
			assert.InDeltaSlice(t, tc.std, std, 1e-12)
			assert.Len(t, mean, len(tc.mean))
		})
	}
}
