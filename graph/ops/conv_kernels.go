package ops

import (
	"sync"
	"unsafe"
)

// Layout of the column matrix: for one image, col is K x OH·OW with K = KH·KW·C, and its rows
// are ordered (u, v, c): row (u·KW+v)·C + c holds x̃[c, i·SH+u-PH, j·SW+v-PW] at column i·OW+j.
// With this order the rows of all channels for one kernel offset (u,v) form one block, which for
// stride-1 "same" convolutions is the whole image shifted by a constant offset: one copy per
// (u,v) instead of one per (c,u,v) row. The filters are permuted to match:
// wp[o, (u·KW+v)·C + c] = w[o, c, u, v].

// scratch holds an op's buffers: a few single buffers in numbered slots, kept between runs
// (an op never runs concurrently with itself), and per-worker work buffers borrowed from the
// shared arena for one run (see release).
type scratch struct {
	slots32 [][]float32
	slots64 [][]float64
	lent32  [][]float32 // borrowed for this run
	lent64  [][]float64
	impl    *implicit    // the implicit-GEMM layout of the op's geometry, once computed
	grad    *stridedGrad // the strided input gradient's layout, once computed
}

// implicitPath returns the implicit-GEMM layout of g when the convolution takes that path (T is
// float32 and g a geometry of the path), nil otherwise.
func implicitPath[T float](s *scratch, g convGeom) *implicit {
	if !isF32[T]() {
		return nil
	}
	if s.impl == nil || s.impl.g != g {
		s.impl = implicitFor(g)
		if s.impl == nil {
			return nil
		}
	}
	return s.impl
}

// stridedPath returns the input-gradient layout of g when g is strided and on the implicit path,
// nil otherwise.
func stridedPath[T float](s *scratch, g convGeom) *stridedGrad {
	if !isF32[T]() || (g.SH == 1 && g.SW == 1) {
		return nil
	}
	if s.grad == nil || s.grad.g != g {
		if implicitFor(g) == nil {
			return nil
		}
		s.grad = stridedGradFor(g)
	}
	return s.grad
}

// scratch slots
const (
	slotPermuted = iota // permuted filters (implicit path: the zero-padded last block)
	slotFlipped         // flipped, transposed filters of the input gradient
	slotSum             // summed filter gradient before un-permuting
)

// arena lends work buffers (im2col matrices, padded copies) to the convolutions for one run.
// The ops of a graph run one after the other, so they share a few buffers of the largest size
// any of them needs, where each op keeping its own held them all at once (hundreds of MB for a
// ResNet-50). Safe for concurrent use: machines running in parallel borrow different buffers.
type arena[E any] struct {
	mu   sync.Mutex
	free [][]E
}

var (
	arena32 arena[float32]
	arena64 arena[float64]
)

// get returns a buffer of size elements (contents unspecified): the smallest free one that is
// large enough, or a new one, which replaces the largest free one (too small) so that the
// arena holds no more buffers than were ever lent at once.
func (a *arena[E]) get(size int) []E {
	a.mu.Lock()
	defer a.mu.Unlock()
	best, largest := -1, -1
	for i, b := range a.free {
		if cap(b) >= size && (best < 0 || cap(b) < cap(a.free[best])) {
			best = i
		}
		if largest < 0 || cap(b) > cap(a.free[largest]) {
			largest = i
		}
	}
	if best < 0 {
		if largest >= 0 {
			a.free = append(a.free[:largest], a.free[largest+1:]...)
		}
		return make([]E, size)
	}
	b := a.free[best]
	a.free = append(a.free[:best], a.free[best+1:]...)
	return b[:size]
}

func (a *arena[E]) put(b []E) {
	a.mu.Lock()
	a.free = append(a.free, b)
	a.mu.Unlock()
}

// buffers returns n per-worker buffers of exactly size elements each (contents unspecified),
// borrowed from the arena until s.release.
func buffers[T float](s *scratch, n, size int) [][]T {
	if isF32[T]() {
		all := borrow(&arena32, &s.lent32, n, size)
		return *(*[][]T)(unsafe.Pointer(&all))
	}
	all := borrow(&arena64, &s.lent64, n, size)
	return *(*[][]T)(unsafe.Pointer(&all))
}

// borrow gets n buffers of size elements from a and records them in lent.
func borrow[E any](a *arena[E], lent *[][]E, n, size int) [][]E {
	first := len(*lent)
	for i := 0; i < n; i++ {
		*lent = append(*lent, a.get(size))
	}
	return (*lent)[first:]
}

// release returns the buffers borrowed in this run to the arena.
func (s *scratch) release() {
	giveBack(&arena32, &s.lent32)
	giveBack(&arena64, &s.lent64)
}

func giveBack[E any](a *arena[E], lent *[][]E) {
	for i, b := range *lent {
		a.put(b)
		(*lent)[i] = nil
	}
	*lent = (*lent)[:0]
}

// slot returns the op's own buffer in the given slot, of size elements (contents unspecified).
func slot[T float](s *scratch, i, size int) []T {
	if isF32[T]() {
		b := slotIn(&s.slots32, i, size)
		return *(*[]T)(unsafe.Pointer(&b))
	}
	b := slotIn(&s.slots64, i, size)
	return *(*[]T)(unsafe.Pointer(&b))
}

func slotIn[E any](slots *[][]E, i, size int) []E {
	for len(*slots) <= i {
		*slots = append(*slots, nil)
	}
	if cap((*slots)[i]) < size {
		(*slots)[i] = make([]E, size)
	}
	return (*slots)[i][:size]
}

// ceilDiv returns ceil(a/b) for b > 0 and any a.
func ceilDiv(a, b int) int {
	if a <= 0 {
		return -((-a) / b)
	}
	return (a + b - 1) / b
}

// validRange returns the output indices [lo,hi) whose input index o*s - p + k lies in [0,n).
func validRange(out, n, s, p, k int) (lo, hi int) {
	lo = max(0, ceilDiv(p-k, s))
	hi = min(out, ceilDiv(n+p-k, s))
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// permuteFilters writes wp[o, (u·KW+v)·C + c] = w[o, c, u, v].
func permuteFilters[T float](g convGeom, w, wp []T) {
	kk, K := g.KH*g.KW, g.K()
	for o := 0; o < g.O; o++ {
		for c := 0; c < g.C; c++ {
			src := w[(o*g.C+c)*kk : (o*g.C+c+1)*kk]
			dst := wp[o*K+c:]
			for uv, v := range src {
				dst[uv*g.C] = v
			}
		}
	}
}

// unpermuteFilters writes w[o, c, u, v] = wp[o, (u·KW+v)·C + c].
func unpermuteFilters[T float](g convGeom, wp, w []T) {
	kk, K := g.KH*g.KW, g.K()
	for o := 0; o < g.O; o++ {
		for c := 0; c < g.C; c++ {
			dst := w[(o*g.C+c)*kk : (o*g.C+c+1)*kk]
			src := wp[o*K+c:]
			for uv := range dst {
				dst[uv] = src[uv*g.C]
			}
		}
	}
}

// zeroEdges zeroes columns [0,x0) and [x1,ow) of rows [y0,y1) of a row-major matrix of width
// ow. The edges are a few elements wide, so plain loops beat clear's call per row.
func zeroEdges[T float](m []T, ow, y0, y1, x0, x1 int) {
	if x0 == 0 && x1 == ow {
		return
	}
	for i := y0; i < y1; i++ {
		r := m[i*ow : (i+1)*ow]
		for j := 0; j < x0; j++ {
			r[j] = 0
		}
		for j := x1; j < len(r); j++ {
			r[j] = 0
		}
	}
}

// colBufSize is the size of an im2col work buffer: the column matrix (K x OH·OW) followed, for
// shifted geometries, by KW horizontally shifted copies of the image.
func (g convGeom) colBufSize() int {
	n := g.K() * g.OHW()
	if g.shifted() && g.KW > 1 {
		n += g.KW * g.CHW()
	}
	return n
}

// im2col writes the rows of channels [c0,c1) of the column matrix of one image (zero where the
// kernel reaches outside the image) into buf[:K·OH·OW], using the rest of buf (see colBufSize)
// as work space.
func im2col[T float](g convGeom, im, buf []T, c0, c1 int) {
	ohw, hw := g.OHW(), g.H*g.W
	col := buf[:g.K()*ohw]
	if g.shifted() {
		// Stride 1, OW = W: block (u,v) is the image shifted by (u-PH, v-PW). The horizontal
		// shift is done once per v into a work copy whose wrapped-around column is zeroed (a
		// misaligned copy); the blocks are then copies shifted by whole rows (aligned), plus
		// zeroed top and bottom rows.
		tmp := buf[len(col):]
		for v := 0; v < g.KW; v++ {
			x0, x1 := validRange(g.OW, g.W, 1, g.PW, v)
			src := im
			if dv := v - g.PW; dv != 0 && x0 < x1 {
				src = tmp[v*g.C*hw : (v+1)*g.C*hw]
				// (reads stay inside channels [c0,c1): other workers may fill the other channels)
				d0, d1 := max(c0*hw, c0*hw-dv), min(c1*hw, c1*hw-dv)
				copy(src[d0:d1], im[d0+dv:d1+dv])
				for c := c0; c < c1; c++ {
					zeroEdges(src[c*hw:(c+1)*hw], g.W, 0, g.H, x0, x1)
				}
			}
			for u := 0; u < g.KH; u++ {
				y0, y1 := validRange(g.OH, g.H, 1, g.PH, u)
				blk := col[(u*g.KW+v)*g.C*ohw : (u*g.KW+v+1)*g.C*ohw]
				if y0 >= y1 || x0 >= x1 {
					clear(blk[c0*ohw : c1*ohw])
					continue
				}
				shift := (u - g.PH) * g.W
				d0, d1 := max(c0*hw, c0*hw-shift), min(c1*hw, c1*hw-shift)
				copy(blk[d0:d1], src[d0+shift:d1+shift])
				if y0 > 0 || y1 < g.OH {
					for c := c0; c < c1; c++ {
						p := blk[c*ohw : (c+1)*ohw]
						clear(p[:y0*g.OW])
						clear(p[y1*g.OW:])
					}
				}
			}
		}
		return
	}
	for u := 0; u < g.KH; u++ {
		y0, y1 := validRange(g.OH, g.H, g.SH, g.PH, u)
		for v := 0; v < g.KW; v++ {
			x0, x1 := validRange(g.OW, g.W, g.SW, g.PW, v)
			blk := col[(u*g.KW+v)*g.C*ohw : (u*g.KW+v+1)*g.C*ohw]
			if y0 >= y1 || x0 >= x1 {
				clear(blk[c0*ohw : c1*ohw])
				continue
			}
			for c := c0; c < c1; c++ {
				dst, plane := blk[c*ohw:(c+1)*ohw], im[c*hw:(c+1)*hw]
				clear(dst[:y0*g.OW])
				clear(dst[y1*g.OW:])
				for i := y0; i < y1; i++ {
					r := dst[i*g.OW : (i+1)*g.OW]
					src := plane[(i*g.SH-g.PH+u)*g.W:]
					for j := 0; j < x0; j++ {
						r[j] = 0
					}
					for j := x1; j < len(r); j++ {
						r[j] = 0
					}
					if g.SW == 1 {
						off := v - g.PW
						copy(r[x0:x1], src[x0+off:x1+off])
					} else {
						ix := x0*g.SW - g.PW + v
						for j := x0; j < x1; j++ {
							r[j] = src[ix]
							ix += g.SW
						}
					}
				}
			}
		}
	}
}

// col2im zeroes the planes of channels [c0,c1) of one image gradient and accumulates into them
// the matching rows of the column-matrix gradient: the adjoint of im2col.
func col2im[T float](g convGeom, col, im []T, c0, c1 int) {
	ohw, hw := g.OHW(), g.H*g.W
	clear(im[c0*hw : c1*hw])
	for u := 0; u < g.KH; u++ {
		y0, y1 := validRange(g.OH, g.H, g.SH, g.PH, u)
		for v := 0; v < g.KW; v++ {
			x0, x1 := validRange(g.OW, g.W, g.SW, g.PW, v)
			if y0 >= y1 || x0 >= x1 {
				continue
			}
			blk := col[(u*g.KW+v)*g.C*ohw : (u*g.KW+v+1)*g.C*ohw]
			for c := c0; c < c1; c++ {
				src, plane := blk[c*ohw:(c+1)*ohw], im[c*hw:(c+1)*hw]
				for i := y0; i < y1; i++ {
					r := src[i*g.OW : (i+1)*g.OW]
					dst := plane[(i*g.SH-g.PH+u)*g.W:]
					if g.SW == 1 {
						off := v - g.PW
						addTo(dst[x0+off:x1+off], r[x0:x1])
					} else {
						ix := x0*g.SW - g.PW + v
						for j := x0; j < x1; j++ {
							dst[ix] += r[j]
							ix += g.SW
						}
					}
				}
			}
		}
	}
}

// addTo computes dst[i] += src[i].
func addTo[T float](dst, src []T) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}

// permuted returns the filters in column-matrix order (w itself for 1x1 kernels).
func permuted[T float](g convGeom, s *scratch, w []T) []T {
	if g.KH*g.KW == 1 {
		return w
	}
	wp := slot[T](s, slotPermuted, len(w))
	permuteFilters(g, w, wp)
	return wp
}

// convForward computes y_b = Wp·col(x_b) for every image b, plus bias[o] on every plane o when
// bias is not nil.
func convForward[T float](g convGeom, s *scratch, x, w, bias, y []T) {
	if m := implicitPath[T](s, g); m != nil {
		convForwardImplicit(m, s, f32s(x), f32s(w), f32s(bias), f32s(y))
		return
	}
	K, ohw, chw, ochw := g.K(), g.OHW(), g.CHW(), g.O*g.OHW()
	direct := g.direct()
	wp := permuted(g, s, w)
	if p := Workers(); g.B >= p || p == 1 {
		p = workersFor(g.B)
		var bufs [][]T
		if !direct {
			bufs = buffers[T](s, p, g.colBufSize())
		}
		parallelEach(g.B, p, func(wk, b int) {
			xb := x[b*chw : (b+1)*chw]
			col := xb
			if !direct {
				im2col(g, xb, bufs[wk], 0, g.C)
				col = bufs[wk][:K*ohw]
			}
			gemm(false, false, g.O, ohw, K, 1, wp, K, col, ohw, 0, y[b*ochw:(b+1)*ochw], ohw)
			if bias != nil {
				addBias(y[b*ochw:(b+1)*ochw], bias, ohw, 0, g.O, 0, ohw)
			}
		})
		return
	}
	// Fewer images than workers: split each image's im2col (by channel) and product.
	var buf, col []T
	if !direct {
		buf = buffers[T](s, 1, g.colBufSize())[0]
		col = buf[:K*ohw]
	}
	for b := 0; b < g.B; b++ {
		xb, yb := x[b*chw:(b+1)*chw], y[b*ochw:(b+1)*ochw]
		if direct {
			col = xb
		} else {
			parallel(g.C, workersFor(g.C), func(_, lo, hi int) { im2col(g, xb, buf, lo, hi) })
		}
		if g.O >= ohw {
			parallel(g.O, workersFor(g.O), func(_, lo, hi int) {
				gemm(false, false, hi-lo, ohw, K, 1, wp[lo*K:], K, col, ohw, 0, yb[lo*ohw:], ohw)
				if bias != nil {
					addBias(yb, bias, ohw, lo, hi, 0, ohw)
				}
			})
		} else {
			parallel(ohw, workersFor(ohw), func(_, lo, hi int) {
				gemm(false, false, g.O, hi-lo, K, 1, wp, K, col[lo:], ohw, 0, yb[lo:], ohw)
				if bias != nil {
					addBias(yb, bias, ohw, 0, g.O, lo, hi)
				}
			})
		}
	}
}

// transposedGeom returns the geometry of the stride-1 convolution that computes the input
// gradient of g directly: dx = conv(dy, W̃) with W̃[c,o,u,v] = W[o,c,KH-1-u,KW-1-v] and padding
// (KH-1-PH, KW-1-PW). ok is false when g is not stride 1 or would need negative padding.
func (g convGeom) transposedGeom() (t convGeom, ok bool) {
	if g.SH != 1 || g.SW != 1 || g.PH > g.KH-1 || g.PW > g.KW-1 {
		return t, false
	}
	t = convGeom{B: g.B, C: g.O, H: g.OH, W: g.OW, O: g.C, KH: g.KH, KW: g.KW,
		SH: 1, SW: 1, PH: g.KH - 1 - g.PH, PW: g.KW - 1 - g.PW}
	t.OH, t.OW = t.H+2*t.PH-t.KH+1, t.W+2*t.PW-t.KW+1
	return t, t.OH == g.H && t.OW == g.W
}

// flipFilters writes W̃ (C, O, KH, KW) with W̃[c,o,u,v] = W[o,c,KH-1-u,KW-1-v].
func flipFilters[T float](g convGeom, w, wt []T) {
	kk := g.KH * g.KW
	for o := 0; o < g.O; o++ {
		for c := 0; c < g.C; c++ {
			src := w[(o*g.C+c)*kk : (o*g.C+c+1)*kk]
			dst := wt[(c*g.O+o)*kk : (c*g.O+o+1)*kk]
			for i, v := range src {
				dst[kk-1-i] = v
			}
		}
	}
}

// convBackwardData computes the input gradient. For stride 1 it is the convolution of dY with
// the flipped, transposed filters (an im2col and an NN product per image, like the forward
// pass); a strided one on the implicit path goes phase by phase (conv_strided.go); otherwise
// dx_b = col2im(Wpᵀ·dY_b).
func convBackwardData[T float](g convGeom, s *scratch, w, dy, dx []T) {
	if t, ok := g.transposedGeom(); ok {
		wt := slot[T](s, slotFlipped, len(w))
		flipFilters(g, w, wt)
		convForward(t, s, dy, wt, nil, dx)
		return
	}
	if sg := stridedPath[T](s, g); sg != nil {
		convBackwardDataStrided(sg, s, f32s(w), f32s(dy), f32s(dx))
		return
	}
	K, ohw, chw, ochw := g.K(), g.OHW(), g.CHW(), g.O*g.OHW()
	direct := g.direct()
	wp := permuted(g, s, w)
	if p := Workers(); g.B >= p || p == 1 {
		p = workersFor(g.B)
		var bufs [][]T
		if !direct {
			bufs = buffers[T](s, p, K*ohw)
		}
		parallelEach(g.B, p, func(wk, b int) {
			dxb, dyb := dx[b*chw:(b+1)*chw], dy[b*ochw:(b+1)*ochw]
			if direct {
				gemm(true, false, K, ohw, g.O, 1, wp, K, dyb, ohw, 0, dxb, ohw)
				return
			}
			dcol := bufs[wk]
			gemm(true, false, K, ohw, g.O, 1, wp, K, dyb, ohw, 0, dcol, ohw)
			col2im(g, dcol, dxb, 0, g.C)
		})
		return
	}
	// Fewer images than workers: split each image's product by columns, then col2im by channel.
	dcol := dx[:0]
	if !direct {
		dcol = buffers[T](s, 1, K*ohw)[0]
	}
	for b := 0; b < g.B; b++ {
		dxb, dyb := dx[b*chw:(b+1)*chw], dy[b*ochw:(b+1)*ochw]
		out := dcol
		if direct {
			out = dxb
		}
		parallel(ohw, workersFor(ohw), func(_, lo, hi int) {
			gemm(true, false, K, hi-lo, g.O, 1, wp, K, dyb[lo:], ohw, 0, out[lo:], ohw)
		})
		if !direct {
			parallel(g.C, workersFor(g.C), func(_, c0, c1 int) { col2im(g, dcol, dxb, c0, c1) })
		}
	}
}

// convBackwardFilter computes dW = Σ_b dY_b·col(x_b)ᵀ (in column-matrix order, then un-permuted).
func convBackwardFilter[T float](g convGeom, s *scratch, x, dy, dw []T) {
	if m := implicitPath[T](s, g); m != nil {
		convBackwardFilterImplicit(m, s, f32s(x), f32s(dy), f32s(dw))
		return
	}
	K, ohw, chw, ochw := g.K(), g.OHW(), g.CHW(), g.O*g.OHW()
	direct := g.direct()
	one := g.KH*g.KW == 1 // column order = filter order
	colSize := g.colBufSize()
	if direct {
		colSize = 0
	}
	if p := Workers(); g.B >= p || p == 1 {
		p = workersFor(g.B)
		// per worker: a column buffer followed by a private dW accumulator (for 1x1 kernels,
		// worker 0 accumulates into dw itself)
		bufs := buffers[T](s, p, colSize+g.O*K)
		accOf := func(wk int) []T {
			if wk == 0 && one {
				return dw
			}
			return bufs[wk][colSize:]
		}
		used := make([]bool, p) // whether worker wk has written its accumulator
		// A fixed split of the batch (not parallelEach's first come, first served) keeps the
		// order of the floating-point sums, so a run is reproducible bit for bit.
		parallel(g.B, p, func(wk, lo, hi int) {
			for b := lo; b < hi; b++ {
				xb := x[b*chw : (b+1)*chw]
				col := xb
				if !direct {
					im2col(g, xb, bufs[wk][:colSize], 0, g.C)
					col = bufs[wk][:K*ohw]
				}
				beta := T(1)
				if !used[wk] {
					beta, used[wk] = 0, true
				}
				gemm(false, true, g.O, K, ohw, 1, dy[b*ochw:(b+1)*ochw], ohw, col, ohw, beta, accOf(wk), K)
			}
		})
		sum := accOf(0)
		if !used[0] {
			clear(sum)
		}
		for wk := 1; wk < p; wk++ {
			if used[wk] {
				addTo(sum, accOf(wk))
			}
		}
		if !one {
			unpermuteFilters(g, sum, dw)
		}
		return
	}
	// Fewer images than workers: split each image's im2col by channel and its product by rows of dW.
	var buf, col []T
	if !direct {
		buf = buffers[T](s, 1, colSize)[0]
		col = buf[:K*ohw]
	}
	sum := dw
	if !one {
		sum = slot[T](s, slotSum, len(dw))
	}
	for b := 0; b < g.B; b++ {
		xb, dyb := x[b*chw:(b+1)*chw], dy[b*ochw:(b+1)*ochw]
		if direct {
			col = xb
		} else {
			parallel(g.C, workersFor(g.C), func(_, lo, hi int) { im2col(g, xb, buf, lo, hi) })
		}
		beta := T(1)
		if b == 0 {
			beta = 0
		}
		parallel(g.O, workersFor(g.O), func(_, lo, hi int) {
			gemm(false, true, hi-lo, K, ohw, 1, dyb[lo*ohw:], ohw, col, ohw, beta, sum[lo*K:], K)
		})
	}
	if !one {
		unpermuteFilters(g, sum, dw)
	}
}

// addBias adds bias[o] to columns [j0,j1) of rows [o0,o1) of y, a row-major O x ohw matrix (one
// image's output planes).
func addBias[T float](y, bias []T, ohw, o0, o1, j0, j1 int) {
	for o := o0; o < o1; o++ {
		r, b := y[o*ohw+j0:o*ohw+j1], bias[o]
		for i := range r {
			r[i] += b
		}
	}
}

// convBackwardBias computes dbias[o] = Σ_{b,i,j} dY[b,o,i,j]: each plane summed by the batch-norm
// row kernel, the planes of a channel added in float64 in batch order (a fixed order whatever the
// worker count, so a run is reproducible bit for bit), channels split across workers.
func convBackwardBias[T float](g convGeom, dy, dbias []T) {
	ohw := g.OHW()
	parallel(g.O, workersFor(g.O), func(_, lo, hi int) {
		for o := lo; o < hi; o++ {
			var sum float64
			for b := 0; b < g.B; b++ {
				s1, _ := rowSums(dy[(b*g.O+o)*ohw:(b*g.O+o+1)*ohw], 0)
				sum += float64(s1)
			}
			dbias[o] = T(sum)
		}
	})
}
