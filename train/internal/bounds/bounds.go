package bounds

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// MaxUnbacked is the most a reader allocates on a header's word alone (1 MiB): a buffer for data
// that a header announces starts at most this large and grows only as the data arrives, so that a
// header announcing terabytes costs a truncation error, not the allocation. Growing from 1 MiB to
// the 47 MB of MNIST's training images copies about as much again, which is nothing next to
// reading them.
const MaxUnbacked = 1 << 20

// Product returns factors[0] × factors[1] × … (1 for no factors) when no factor is negative and
// the product is at most limit; otherwise it returns an *Error. The limit is checked before each
// multiplication, so that no choice of factors can wrap the product. A zero factor makes the
// product 0 whatever the others: the size is what matters, not the order of the factors.
func Product(limit int, factors ...int) (int, error) {
	zero := false
	for _, f := range factors {
		if f < 0 {
			return 0, newError(limit, factors)
		}
		zero = zero || f == 0
	}
	p := 1
	if zero {
		p = 0
	} else {
		for _, f := range factors {
			if p > limit/f {
				return 0, newError(limit, factors)
			}
			p *= f
		}
	}
	if p > limit {
		return 0, newError(limit, factors)
	}
	return p, nil
}

// Error reports a product of Factors that has a negative factor or is more than Limit. Its
// message names the exact product, computed without overflow.
type Error struct {
	Factors []int
	Limit   int
}

func newError(limit int, factors []int) *Error {
	return &Error{Factors: append([]int(nil), factors...), Limit: limit}
}

// Error is e.g. "1 x 4294967295 x 4294967295 = 18446744065119617025, more than 1099511627776".
func (e *Error) Error() string {
	terms := make([]string, len(e.Factors))
	p := big.NewInt(1)
	for i, f := range e.Factors {
		terms[i] = strconv.Itoa(f)
		p.Mul(p, big.NewInt(int64(f)))
	}
	expr := strings.Join(terms, " x ")
	for _, f := range e.Factors {
		if f < 0 {
			return fmt.Sprintf("negative factor %d in %s", f, expr)
		}
	}
	switch len(e.Factors) {
	case 0:
		expr = "1"
	case 1:
	default:
		expr += " = " + p.String()
	}
	return fmt.Sprintf("%s, more than %d", expr, e.Limit)
}
