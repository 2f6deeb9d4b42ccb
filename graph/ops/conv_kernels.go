package ops

import "unsafe"

// scratch keeps per-worker buffers of an op between runs (an op never runs concurrently with itself).
type scratch struct {
	f32 [][]float32
	f64 [][]float64
	aux *scratch // a second set (for the flipped filters of the input gradient)
}

func growBufs[E any](b [][]E, n, size int) [][]E {
	for len(b) < n {
		b = append(b, nil)
	}
	for i := 0; i < n; i++ {
		if len(b[i]) < size {
			b[i] = make([]E, size)
		}
	}
	return b
}

// buffers returns n per-worker buffers of exactly size elements each (contents unspecified).
func buffers[T float](s *scratch, n, size int) [][]T {
	var all [][]T
	if isF32[T]() {
		s.f32 = growBufs(s.f32, n, size)
		all = *(*[][]T)(unsafe.Pointer(&s.f32))
	} else {
		s.f64 = growBufs(s.f64, n, size)
		all = *(*[][]T)(unsafe.Pointer(&s.f64))
	}
	out := all[:n:n]
	for i := range out {
		out[i] = out[i][:size:size]
	}
	return out
}

// auxBuffer returns a buffer of size elements separate from the per-worker buffers.
func auxBuffer[T float](s *scratch, size int) []T {
	if s.aux == nil {
		s.aux = &scratch{}
	}
	return buffers[T](s.aux, 1, size)[0]
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

// im2col writes the rows of channels [c0,c1) of the K x OH·OW column matrix of one image:
// col[(c·KH+u)·KW+v, i·OW+j] = x̃[c, i·SH+u-PH, j·SW+v-PW] (zero outside the image).
func im2col[T float](g convGeom, im, col []T, c0, c1 int) {
	ohw, hw := g.OHW(), g.H*g.W
	shifted := g.shifted()
	for c := c0; c < c1; c++ {
		plane := im[c*hw : (c+1)*hw]
		for u := 0; u < g.KH; u++ {
			y0, y1 := validRange(g.OH, g.H, g.SH, g.PH, u)
			for v := 0; v < g.KW; v++ {
				row := (c*g.KH+u)*g.KW + v
				dst := col[row*ohw : (row+1)*ohw]
				x0, x1 := validRange(g.OW, g.W, g.SW, g.PW, v)
				if y0 >= y1 || x0 >= x1 {
					clear(dst)
					continue
				}
				clear(dst[:y0*g.OW])
				clear(dst[y1*g.OW:])
				if shifted {
					// dst[d] = plane[d+shift] for the valid rows, as one block; the elements that
					// wrapped around a row edge (columns outside [x0,x1)) are zeroed afterwards.
					shift := (u-g.PH)*g.W + (v - g.PW)
					d0, d1 := y0*g.OW, y1*g.OW
					d0 = max(d0, -shift)
					d1 = min(d1, hw-shift)
					copy(dst[d0:d1], plane[d0+shift:d1+shift])
					if x0 > 0 || x1 < g.OW {
						for i := y0; i < y1; i++ {
							r := dst[i*g.OW : (i+1)*g.OW]
							clear(r[:x0])
							clear(r[x1:])
						}
					}
					continue
				}
				for i := y0; i < y1; i++ {
					r := dst[i*g.OW : (i+1)*g.OW]
					src := plane[(i*g.SH-g.PH+u)*g.W:]
					clear(r[:x0])
					clear(r[x1:])
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
// the matching rows of the column-matrix gradient: the adjoint of im2col. In the shifted case it
// zeroes the wrapped-around elements of col (a scratch buffer) so whole blocks can be added.
func col2im[T float](g convGeom, col, im []T, c0, c1 int) {
	ohw, hw := g.OHW(), g.H*g.W
	shifted := g.shifted()
	clear(im[c0*hw : c1*hw])
	for c := c0; c < c1; c++ {
		plane := im[c*hw : (c+1)*hw]
		for u := 0; u < g.KH; u++ {
			y0, y1 := validRange(g.OH, g.H, g.SH, g.PH, u)
			for v := 0; v < g.KW; v++ {
				row := (c*g.KH+u)*g.KW + v
				src := col[row*ohw : (row+1)*ohw]
				x0, x1 := validRange(g.OW, g.W, g.SW, g.PW, v)
				if y0 >= y1 || x0 >= x1 {
					continue
				}
				if shifted {
					shift := (u-g.PH)*g.W + (v - g.PW)
					if x0 > 0 || x1 < g.OW {
						for i := y0; i < y1; i++ {
							r := src[i*g.OW : (i+1)*g.OW]
							clear(r[:x0])
							clear(r[x1:])
						}
					}
					d0, d1 := y0*g.OW, y1*g.OW
					d0 = max(d0, -shift)
					d1 = min(d1, hw-shift)
					addTo(plane[d0+shift:d1+shift], src[d0:d1])
					continue
				}
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
	i := 0
	for ; i+4 <= len(dst); i += 4 {
		d, s := dst[i:i+4:i+4], src[i:i+4:i+4]
		d[0] += s[0]
		d[1] += s[1]
		d[2] += s[2]
		d[3] += s[3]
	}
	for ; i < len(dst); i++ {
		dst[i] += src[i]
	}
}

// splitRows reports whether a product with m rows and n columns is better split by rows.
func splitRows(m, n int) bool { return m >= n }

// convForward computes y_b = W·col(x_b) for every image b.
func convForward[T float](g convGeom, s *scratch, x, w, y []T) {
	K, ohw, chw, ochw := g.K(), g.OHW(), g.CHW(), g.O*g.OHW()
	direct := g.direct()
	if p := Workers(); g.B >= p || p == 1 {
		p = workersFor(g.B)
		var bufs [][]T
		if !direct {
			bufs = buffers[T](s, p, K*ohw)
		}
		parallelEach(g.B, p, func(wk, b int) {
			xb := x[b*chw : (b+1)*chw]
			col := xb
			if !direct {
				col = bufs[wk]
				im2col(g, xb, col, 0, g.C)
			}
			gemm(false, false, g.O, ohw, K, 1, w, K, col, ohw, 0, y[b*ochw:(b+1)*ochw], ohw)
		})
		return
	}
	// Fewer images than workers: split each image's im2col (by channel) and product.
	var col []T
	if !direct {
		col = buffers[T](s, 1, K*ohw)[0]
	}
	for b := 0; b < g.B; b++ {
		xb, yb := x[b*chw:(b+1)*chw], y[b*ochw:(b+1)*ochw]
		if direct {
			col = xb
		} else {
			parallel(g.C, workersFor(g.C), func(_, lo, hi int) { im2col(g, xb, col, lo, hi) })
		}
		if splitRows(g.O, ohw) {
			parallel(g.O, workersFor(g.O), func(_, lo, hi int) {
				gemm(false, false, hi-lo, ohw, K, 1, w[lo*K:], K, col, ohw, 0, yb[lo*ohw:], ohw)
			})
		} else {
			parallel(ohw, workersFor(ohw), func(_, lo, hi int) {
				gemm(false, false, g.O, hi-lo, K, 1, w, K, col[lo:], ohw, 0, yb[lo:], ohw)
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

// flipFilters writes W̃ (C x O·KH·KW) with W̃[c,o,u,v] = W[o,c,KH-1-u,KW-1-v].
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
// pass); otherwise dx_b = col2im(Wᵀ·dY_b).
func convBackwardData[T float](g convGeom, s *scratch, w, dy, dx []T) {
	if t, ok := g.transposedGeom(); ok {
		wt := auxBuffer[T](s, len(w))
		flipFilters(g, w, wt)
		convForward(t, s, dy, wt, dx)
		return
	}
	K, ohw, chw, ochw := g.K(), g.OHW(), g.CHW(), g.O*g.OHW()
	kk := g.KH * g.KW
	direct := g.direct()
	if p := Workers(); g.B >= p || p == 1 {
		p = workersFor(g.B)
		var bufs [][]T
		if !direct {
			bufs = buffers[T](s, p, K*ohw)
		}
		parallelEach(g.B, p, func(wk, b int) {
			dxb, dyb := dx[b*chw:(b+1)*chw], dy[b*ochw:(b+1)*ochw]
			if direct {
				gemm(true, false, K, ohw, g.O, 1, w, K, dyb, ohw, 0, dxb, ohw)
				return
			}
			dcol := bufs[wk]
			gemm(true, false, K, ohw, g.O, 1, w, K, dyb, ohw, 0, dcol, ohw)
			col2im(g, dcol, dxb, 0, g.C)
		})
		return
	}
	// Fewer images than workers: split each image by channel (rows of Wᵀ·dY_b, then col2im).
	var dcol []T
	if !direct {
		dcol = buffers[T](s, 1, K*ohw)[0]
	}
	for b := 0; b < g.B; b++ {
		dxb, dyb := dx[b*chw:(b+1)*chw], dy[b*ochw:(b+1)*ochw]
		parallel(g.C, workersFor(g.C), func(_, c0, c1 int) {
			k0, k1 := c0*kk, c1*kk
			if direct {
				gemm(true, false, k1-k0, ohw, g.O, 1, w[k0:], K, dyb, ohw, 0, dxb[k0*ohw:], ohw)
				return
			}
			gemm(true, false, k1-k0, ohw, g.O, 1, w[k0:], K, dyb, ohw, 0, dcol[k0*ohw:], ohw)
			col2im(g, dcol, dxb, c0, c1)
		})
	}
}

// convBackwardFilter computes dW = Σ_b dY_b·col(x_b)ᵀ.
func convBackwardFilter[T float](g convGeom, s *scratch, x, dy, dw []T) {
	K, ohw, chw, ochw := g.K(), g.OHW(), g.CHW(), g.O*g.OHW()
	direct := g.direct()
	colSize := K * ohw
	if direct {
		colSize = 0
	}
	if p := Workers(); g.B >= p || p == 1 {
		p = workersFor(g.B)
		// per worker: a column buffer followed by a private dW accumulator (worker 0 uses dw)
		bufs := buffers[T](s, p, colSize+g.O*K)
		used := make([]bool, p) // whether worker wk has written its accumulator
		parallelEach(g.B, p, func(wk, b int) {
			acc := dw
			if wk > 0 {
				acc = bufs[wk][colSize:]
			}
			xb := x[b*chw : (b+1)*chw]
			col := xb
			if !direct {
				col = bufs[wk][:colSize]
				im2col(g, xb, col, 0, g.C)
			}
			beta := T(1)
			if !used[wk] {
				beta, used[wk] = 0, true
			}
			gemm(false, true, g.O, K, ohw, 1, dy[b*ochw:(b+1)*ochw], ohw, col, ohw, beta, acc, K)
		})
		if !used[0] {
			clear(dw)
		}
		for wk := 1; wk < p; wk++ {
			if used[wk] {
				addTo(dw, bufs[wk][colSize:])
			}
		}
		return
	}
	// Fewer images than workers: split each image's im2col by channel and its product by rows of dW.
	var col []T
	if !direct {
		col = buffers[T](s, 1, colSize)[0]
	}
	for b := 0; b < g.B; b++ {
		xb, dyb := x[b*chw:(b+1)*chw], dy[b*ochw:(b+1)*ochw]
		if direct {
			col = xb
		} else {
			parallel(g.C, workersFor(g.C), func(_, lo, hi int) { im2col(g, xb, col, lo, hi) })
		}
		beta := T(1)
		if b == 0 {
			beta = 0
		}
		parallel(g.O, workersFor(g.O), func(_, lo, hi int) {
			gemm(false, true, hi-lo, K, ohw, 1, dyb[lo*ohw:], ohw, col, ohw, beta, dw[lo*K:], K)
		})
	}
}
