//go:build !purego

package vec32

// Each kernel reads len of its first slice elements from every slice: the caller must pass others
// at least that long. Unaligned slices and any length are fine. Element-wise results are
// bit-identical to the Go loops of package ops (no FMA); sums (four vector accumulators each)
// differ from them only in the order of the additions. Outputs may alias inputs exactly.

// RowSums returns Σ(x-shift) and Σ(x-shift)².
//
//go:noescape
func RowSums(x []float32, shift float32) (s1, s2 float32)

// GradSums returns Σg and Σg·(x-m).
//
//go:noescape
func GradSums(g, x []float32, m float32) (s1, s2 float32)

// MaskedGradSums returns Σg and Σg·(x-m) for g = dy·[bits(y) != 0] (y a ReLU output).
//
//go:noescape
func MaskedGradSums(y, dy, x []float32, m float32) (s1, s2 float32)

// AffineRow sets y = a·x + b.
//
//go:noescape
func AffineRow(x, y []float32, a, b float32)

// AffineReLURow sets y = max(a·x + b, 0) with the semantics of ReLU.
//
//go:noescape
func AffineReLURow(x, y []float32, a, b float32)

// BNDxRow sets d = (kg·g + kx·x) + k0.
//
//go:noescape
func BNDxRow(g, x, d []float32, kg, kx, k0 float32)

// MaskedBNDxRow sets d = (kg·dy·[bits(y) != 0] + kx·x) + k0.
//
//go:noescape
func MaskedBNDxRow(y, dy, x, d []float32, kg, kx, k0 float32)

// ReLU sets y = max(a, 0) bit for bit as Go's builtin max on amd64: a NaN stays a NaN, with its
// sign bit cleared; -0 gives +0.
//
//go:noescape
func ReLU(a, y []float32)

// Add sets y = a + b.
//
//go:noescape
func Add(a, b, y []float32)

// AddReLU sets y = max(a+b, 0) like ReLU.
//
//go:noescape
func AddReLU(a, b, y []float32)

// ReLUMask sets dx = dy·[bits(y) != 0] (dy where y is not +0, NaN included), by masking bits.
//
//go:noescape
func ReLUMask(y, dy, dx []float32)
