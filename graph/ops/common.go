package ops

import (
	"fmt"
	"hash"
	"hash/fnv"
	"unsafe"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// float is the set of element types the operators support.
type float interface{ ~float32 | ~float64 }

// tensorType is the Gorgonia type of a dims-dimensional tensor of the type variable a.
func tensorType(dims int) hm.Type { return G.TensorType{Dims: dims, Of: hm.TypeVariable('a')} }

// pure is embedded in every op here, which Gorgonia's TapeMachine runs as Go code (CallsExtern),
// gives a value rather than a pointer (ReturnsPtr) and never overwrites an input in place
// (OverwritesInput): the ReLU ops that may run in place do so through UsePreallocDo, where the
// machine hands them the buffer.
type pure struct{}

func (pure) ReturnsPtr() bool     { return false }
func (pure) CallsExtern() bool    { return false }
func (pure) OverwritesInput() int { return -1 }

// hashOf is the Hashcode of an op: FNV-32a of its WriteHash.
func hashOf(op G.Op) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// writeHash writes the op's String form, which every op here makes unique for its parameters.
func writeHash(h hash.Hash, op fmt.Stringer) { fmt.Fprint(h, op.String()) }

// checkDtype reports whether dt is one of the supported dtypes.
func checkDtype(dt tensor.Dtype, what string) error {
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return fmt.Errorf("%s: unsupported dtype %v (want float32 or float64)", what, dt)
	}
	return nil
}

// nodeDtype returns the dtype of a node, or an error naming the op.
func nodeDtype(n *G.Node, what string) (dt tensor.Dtype, err error) {
	if n == nil {
		return dt, fmt.Errorf("%s: nil node", what)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: node %v has no dtype: %v", what, n, r)
		}
	}()
	dt = n.Dtype()
	return dt, checkDtype(dt, what)
}

// input returns the i-th input value as a contiguous *tensor.Dense of shape want (copying only
// when the value is a non-contiguous view).
func input(vals []G.Value, i int, want tensor.Shape, dt tensor.Dtype, what string) (*tensor.Dense, error) {
	if i >= len(vals) || vals[i] == nil {
		return nil, fmt.Errorf("%s: input %d missing (got %d inputs)", what, i, len(vals))
	}
	t, ok := vals[i].(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("%s: input %d is %T, want *tensor.Dense of shape %v", what, i, vals[i], want)
	}
	if !t.Shape().Eq(want) {
		return nil, fmt.Errorf("%s: input %d has shape %v, want %v", what, i, t.Shape(), want)
	}
	if t.Dtype() != dt {
		return nil, fmt.Errorf("%s: input %d has dtype %v, want %v", what, i, t.Dtype(), dt)
	}
	if t.RequiresIterator() {
		m, ok := t.Materialize().(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("%s: input %d of shape %v cannot be materialised", what, i, want)
		}
		t = m
	}
	if t.DataSize() < want.TotalSize() {
		return nil, fmt.Errorf("%s: input %d of shape %v holds only %d elements", what, i, want, t.DataSize())
	}
	return t, nil
}

// scalarInput returns the i-th input as a float64; it accepts Gorgonia scalars (*G.F64, *G.F32)
// and tensors holding exactly one element.
func scalarInput(vals []G.Value, i int, what string) (float64, error) {
	if i >= len(vals) || vals[i] == nil {
		return 0, fmt.Errorf("%s: input %d missing (got %d inputs)", what, i, len(vals))
	}
	switch v := vals[i].(type) {
	case *G.F64:
		return float64(*v), nil
	case *G.F32:
		return float64(*v), nil
	case tensor.Tensor:
		if v.Shape().TotalSize() != 1 {
			return 0, fmt.Errorf("%s: input %d has shape %v, want a scalar", what, i, v.Shape())
		}
		switch d := v.Data().(type) {
		case float64:
			return d, nil
		case float32:
			return float64(d), nil
		case []float64:
			return d[0], nil
		case []float32:
			return float64(d[0]), nil
		}
	}
	return 0, fmt.Errorf("%s: input %d is %T (%v), want a float scalar", what, i, vals[i], vals[i].Dtype())
}

// dataOf returns the elements of a contiguous dense tensor of element type T.
func dataOf[T float](t *tensor.Dense) []T {
	n := t.Shape().TotalSize()
	if isF32[T]() {
		s := t.Float32s()[:n]
		return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(s))), n)
	}
	s := t.Float64s()[:n]
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(s))), n)
}

// vecOf returns the elements of a caller-owned 1-D tensor (BNStats) as []T, checking dtype and length.
func vecOf[T float](t tensor.Tensor, n int, what string) ([]T, error) {
	if t == nil {
		return nil, fmt.Errorf("%s is nil", what)
	}
	var s []T
	switch d := t.Data().(type) {
	case []float32:
		if !isF32[T]() {
			return nil, fmt.Errorf("%s has dtype float32, want float64", what)
		}
		s = unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(d))), len(d))
	case []float64:
		if isF32[T]() {
			return nil, fmt.Errorf("%s has dtype float64, want float32", what)
		}
		s = unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(d))), len(d))
	default:
		return nil, fmt.Errorf("%s has data %T, want a float slice", what, t.Data())
	}
	if len(s) < n || t.Shape().TotalSize() != n {
		return nil, fmt.Errorf("%s has shape %v, want (%d)", what, t.Shape(), n)
	}
	return s[:n], nil
}

// outBuf is an output tensor owned by an op instance: allocated on the first run and re-used.
type outBuf struct{ t *tensor.Dense }

// get returns the owned tensor with the given dtype and shape, allocating it only when needed.
// A downstream op may have reshaped it in place (G.Reshape's unsafe path): restore the shape.
func (o *outBuf) get(dt tensor.Dtype, shape tensor.Shape) *tensor.Dense {
	t := o.t
	if t != nil && t.Dtype() == dt && t.Shape().TotalSize() == shape.TotalSize() && !t.RequiresIterator() && !t.IsView() {
		if !t.Shape().Eq(shape) {
			if err := t.Reshape(shape...); err == nil {
				return t
			}
		} else {
			return t
		}
	}
	o.t = tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	return o.t
}

// prealloc checks that a value offered by the machine can hold the op's output: a contiguous
// *tensor.Dense of exactly the given shape and dtype whose memory does not overlap any input.
func prealloc(p G.Value, shape tensor.Shape, dt tensor.Dtype, vals []G.Value, what string) (*tensor.Dense, error) {
	t, ok := p.(*tensor.Dense)
	if !ok || t == nil {
		return nil, fmt.Errorf("%s: preallocated value is %T, want *tensor.Dense %v %v", what, p, dt, shape)
	}
	if t.Dtype() != dt || !t.Shape().Eq(shape) {
		return nil, fmt.Errorf("%s: preallocated value is %v %v, want %v %v", what, t.Dtype(), t.Shape(), dt, shape)
	}
	if t.RequiresIterator() || t.DataSize() < shape.TotalSize() {
		return nil, fmt.Errorf("%s: preallocated value of shape %v is not contiguous", what, shape)
	}
	lo, hi := span(t)
	for i, v := range vals {
		if d, ok := v.(*tensor.Dense); ok {
			if l2, h2 := span(d); lo < h2 && l2 < hi {
				return nil, fmt.Errorf("%s: preallocated value of shape %v overlaps input %d", what, shape, i)
			}
		}
	}
	return t, nil
}

// span returns the address range of a dense tensor's backing memory.
func span(t *tensor.Dense) (lo, hi uintptr) {
	n := t.DataSize()
	if n == 0 {
		return 0, 0
	}
	lo = t.Uintptr()
	return lo, lo + uintptr(n)*uintptr(t.Dtype().Size())
}

// noSecondDerivative is the SymDiff error of the gradient ops.
func noSecondDerivative(what string) error {
	return fmt.Errorf("%s: no second derivative (gradient ops are not differentiable)", what)
}

// shapeOf returns a copy of a node's shape.
func shapeOf(n *G.Node) tensor.Shape { return n.Shape().Clone() }

// bools returns a []bool of length n, all equal to v.
func bools(n int, v bool) []bool {
	b := make([]bool, n)
	for i := range b {
		b[i] = v
	}
	return b
}
