package data_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/resnet-go/resnet/train/data"
)

func TestClassNames(t *testing.T) {
	for _, tc := range []struct {
		set   string
		k     int
		first string
		last  string
	}{
		{"builtin", 10, "T-shirt/top", "Ankle boot"},
		{"fashion-mnist", 10, "T-shirt/top", "Ankle boot"},
		{"cifar10", 10, "airplane", "truck"},
		{"mnist", 10, "0", "9"},
		{"cifar100", 100, "0", "99"},
		{"builtin", 3, "0", "2"}, // a head of another size: numbers, not wrong names
	} {
		names := data.ClassNames(tc.set, tc.k)
		assert.Len(t, names, tc.k, tc.set)
		assert.Equal(t, tc.first, names[0], tc.set)
		assert.Equal(t, tc.last, names[tc.k-1], tc.set)
	}
	assert.Empty(t, data.ClassNames("builtin", -1))
}
