package bounds

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProduct(t *testing.T) {
	const tib = 1 << 40
	for _, tc := range []struct {
		name    string
		limit   int
		factors []int
		want    int
		err     string // "" when the product fits
	}{
		{"no factors", tib, nil, 1, ""},
		{"one factor", tib, []int{7}, 7, ""},
		{"MNIST images", tib, []int{60000, 28, 28}, 47040000, ""},
		{"float32 elements", tib, []int{4, 512, 512, 3, 3}, 9437184, ""},
		{"exactly the limit", 12, []int{3, 4}, 12, ""},
		{"one above the limit", 11, []int{3, 4}, 0, "3 x 4 = 12, more than 11"},
		{"zero factor", tib, []int{0, 5}, 0, ""},
		{"zero factor after huge ones", tib, []int{math.MaxInt, math.MaxInt, 0}, 0, ""},
		{"limit of zero", 0, []int{1}, 0, "1, more than 0"},
		{"negative limit", -1, []int{0}, 0, "0, more than -1"},
		{"IDX sides that wrap int64", tib, []int{1, 0xFFFFFFFF, 0xFFFFFFFF}, 0,
			"1 x 4294967295 x 4294967295 = 18446744065119617025, more than 1099511627776"},
		{"IDX product that wraps to 64 KiB", tib, []int{2, 2147516416, 4294901761}, 0,
			"2 x 2147516416 x 4294901761 = 18446744073709617152, more than 1099511627776"},
		{"wraps with no limit", math.MaxInt, []int{1 << 32, 1 << 32}, 0,
			"4294967296 x 4294967296 = 18446744073709551616, more than 9223372036854775807"},
		{"MaxInt itself", math.MaxInt, []int{math.MaxInt, 1}, math.MaxInt, ""},
		{"MaxInt times two", math.MaxInt, []int{math.MaxInt, 2}, 0, "= 18446744073709551614, more than"},
		{"negative", tib, []int{2, -3}, 0, "negative factor -3 in 2 x -3"},
		{"negative with a zero", tib, []int{0, -1}, 0, "negative factor -1 in 0 x -1"},
		{"MinInt", tib, []int{math.MinInt}, 0, "negative factor -9223372036854775808"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Product(tc.limit, tc.factors...)
			if tc.err == "" {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
				return
			}
			require.Error(t, err)
			assert.Zero(t, got)
			assert.Contains(t, err.Error(), tc.err)
			var be *Error
			require.True(t, errors.As(err, &be))
			assert.Equal(t, tc.limit, be.Limit)
			assert.Equal(t, len(tc.factors), len(be.Factors))
		})
	}
}

// TestProductKeepsFactors checks that the error does not alias the caller's slice, which a
// reader may reuse for the next header.
func TestProductKeepsFactors(t *testing.T) {
	dims := []int{1 << 20, 1 << 30}
	_, err := Product(1<<40, dims...)
	require.Error(t, err)
	dims[0] = 1
	assert.Contains(t, err.Error(), "1048576 x 1073741824")
}
