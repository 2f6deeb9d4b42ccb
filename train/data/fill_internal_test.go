package data

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestWriteImageByHand checks crops and flips of a 2×3 image padded by 1, worked out by hand:
//
//	padded:  0 0 0 0 0
//	         0 1 2 3 0
//	         0 4 5 6 0
//	         0 0 0 0 0
//
// The table maps byte v to v+100, so padding (byte 0) shows as 100: padding is black before
// normalisation.
func TestWriteImageByHand(t *testing.T) {
	var lut [1][256]float32
	for v := range lut[0] {
		lut[0][v] = float32(v + 100)
	}
	img := []uint8{1, 2, 3, 4, 5, 6}
	for _, tc := range []struct {
		name   string
		dy, dx int
		flip   bool
		want   []float32
	}{
		{"centre", 1, 1, false, []float32{101, 102, 103, 104, 105, 106}},
		{"centre mirrored", 1, 1, true, []float32{103, 102, 101, 106, 105, 104}},
		{"top right", 0, 2, false, []float32{100, 100, 100, 102, 103, 100}},
		{"top right mirrored", 0, 2, true, []float32{100, 100, 100, 100, 103, 102}},
		{"bottom left", 2, 0, false, []float32{100, 104, 105, 100, 100, 100}},
		{"bottom left mirrored", 2, 0, true, []float32{105, 104, 100, 100, 100, 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]float32, 6)
			writeImage(dst, img, lut[:], 2, 3, 1, tc.dy, tc.dx, tc.flip)
			assert.Equal(t, tc.want, dst)
		})
	}
}

// TestWriteImagePadBeyondImage: a padding wider than the image may crop pure padding.
func TestWriteImagePadBeyondImage(t *testing.T) {
	var lut [1][256]float64
	for v := range lut[0] {
		lut[0][v] = float64(v)
	}
	for _, flip := range []bool{false, true} {
		dst := []float64{9, 9, 9, 9}
		writeImage(dst, []uint8{1, 2, 3, 4}, lut[:], 2, 2, 5, 0, 0, flip)
		assert.Equal(t, []float64{0, 0, 0, 0}, dst)
		writeImage(dst, []uint8{1, 2, 3, 4}, lut[:], 2, 2, 5, 10, 10, flip)
		assert.Equal(t, []float64{0, 0, 0, 0}, dst)
	}
}
