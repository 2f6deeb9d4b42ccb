package data_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestImagesSubsetAndImage(t *testing.T) {
	s := indexed(5, 2, 2, 2, 3)
	sub := s.Subset([]int{4, 1, 4})
	assert.Equal(t, 3, sub.Len())
	assert.Equal(t, []uint8{1, 1, 1}, sub.Labels)
	for j, i := range []int{4, 1, 4} {
		want, wl := s.Image(i)
		got, gl := sub.Image(j)
		assert.Equal(t, want, got)
		assert.Equal(t, wl, gl)
	}
	// A copy: writing to it leaves s alone.
	sub.Pix[0] = 99
	img, _ := s.Image(4)
	assert.Equal(t, uint8(4), img[0])
	// Image's slice cannot grow into the next image.
	first, _ := s.Image(0)
	assert.Equal(t, 8, cap(first))
}
