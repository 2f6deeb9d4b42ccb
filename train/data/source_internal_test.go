package data

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReadGrowing(t *testing.T) {
	input := make([]byte, 20)
	for i := range input {
		input[i] = byte(i)
	}
	for _, tc := range []struct {
		name     string
		avail, n int
		first    int
		err      error
	}{
		{"exact, grown several times", 20, 20, 3, nil},
		{"first chunk is all", 20, 10, 16, nil},
		{"short after growing", 11, 20, 3, io.ErrUnexpectedEOF},
		{"short on a chunk boundary", 12, 20, 3, io.ErrUnexpectedEOF},
		{"nothing", 0, 5, 3, io.EOF},
		{"zero bytes wanted", 0, 0, 3, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readGrowing(bytes.NewReader(input[:tc.avail]), tc.n, tc.first)
			assert.Equal(t, tc.err, err)
			assert.Equal(t, input[:min(tc.n, tc.avail)], got)
		})
	}
}
