package ops

// The input gradient of a strided convolution on the implicit path (a stride-1 one is the
// forward pass of the transposed convolution, see convBackwardData). With stride s, the element
// dx[c, s·i+p, s·j+q] of phase (p, q) sums only the taps (u, v) with u ≡ p+PH and v ≡ q+PW
// (mod s), and tap (u, v) reaches it from dY at (i+du, j+dv), du = (p+PH-u)/s, dv = (q+PW-v)/s.
// Each phase is therefore a stride-1 sum of shifted dY planes: dY is copied once per group into
// the padded layout of a stride-1 convolution over its OH x OW planes, and each phase runs the
// forward tiles over it with its own filters (C x O·taps) and offsets, then writes its grid into
// every s-th row and column of dx. Where col2im added KH·KW columns into each element of dx
// after a BLAS product, every element is now the sum of one tile, in a fixed order.

// stridedGrad is the input-gradient layout of one strided geometry.
type stridedGrad struct {
	g      convGeom  // the convolution
	m      *implicit // dY's planes, padded by the largest shift
	phases []gradPhase
	cols   int // Σ over phases of O·taps: the packed filters' columns
}

// gradPhase is one phase (p, q) of dx.
type gradPhase struct {
	p, q   int
	taps   [][2]int // (u, v), in filter order
	off    []int    // per column o·len(taps)+t: o·chanLen + du·wp + dv
	at     int      // where the phase's filters (o4 x O·len(taps)) start in the packed matrix
	hp, wq int      // rows and columns of dx in this phase
}

// stridedGradFor returns the input-gradient layout of the strided implicit geometry g.
func stridedGradFor(g convGeom) *stridedGrad {
	sg := &stridedGrad{g: g}
	var rH, rW int // the largest row and column shift
	for p := 0; p < g.SH; p++ {
		for q := 0; q < g.SW; q++ {
			ph := gradPhase{p: p, q: q, hp: ceilDiv(g.H-p, g.SH), wq: ceilDiv(g.W-q, g.SW)}
			for u := 0; u < g.KH; u++ {
				for v := 0; v < g.KW; v++ {
					if floorMod(p+g.PH-u, g.SH) == 0 && floorMod(q+g.PW-v, g.SW) == 0 {
						ph.taps = append(ph.taps, [2]int{u, v})
						rH = max(rH, abs((p+g.PH-u)/g.SH))
						rW = max(rW, abs((q+g.PW-v)/g.SW))
					}
				}
			}
			sg.phases = append(sg.phases, ph)
		}
	}
	// dY as the input of a stride-1 convolution with OH x OW planes and kernel 2r+1: the layout
	// pads each plane by the largest shift; its O output channels are the gradient's C.
	sg.m = implicitFor(convGeom{B: g.B, C: g.O, H: g.OH, W: g.OW, O: g.C, KH: 2*rH + 1, KW: 2*rW + 1,
		SH: 1, SW: 1, PH: rH, PW: rW, OH: g.OH, OW: g.OW})
	if sg.m == nil {
		return nil
	}
	for i := range sg.phases {
		ph := &sg.phases[i]
		ph.at = sg.m.o4 * sg.cols
		for o := 0; o < g.O; o++ {
			for _, t := range ph.taps {
				du, dv := (ph.p+g.PH-t[0])/g.SH, (ph.q+g.PW-t[1])/g.SW
				ph.off = append(ph.off, o*sg.m.chanLen+du*sg.m.wp+dv)
			}
		}
		sg.cols += len(ph.off)
	}
	return sg
}

// pack writes each phase's filters, rows c (zero rows up to o4) and columns (o, tap).
func (sg *stridedGrad) pack(w, a []float32) {
	g, kk := sg.g, sg.g.KH*sg.g.KW
	for i := range sg.phases {
		ph := &sg.phases[i]
		k := len(ph.off)
		for c := 0; c < sg.m.o4; c++ {
			row := a[ph.at+c*k : ph.at+(c+1)*k]
			if c >= g.C {
				clear(row)
				continue
			}
			for o := 0; o < g.O; o++ {
				for t, uv := range ph.taps {
					row[o*len(ph.taps)+t] = w[(o*g.C+c)*kk+uv[0]*g.KW+uv[1]]
				}
			}
		}
	}
}

// scatter writes channels [c0,c1) of a phase's grid yg (rows of length n) for images
// [b0,b0+cnt) into dx; a phase without taps writes zeros.
func (sg *stridedGrad) scatter(ph *gradPhase, yg []float32, n, b0, cnt, c0, c1 int, dx []float32) {
	g, m := sg.g, sg.m
	for c := c0; c < c1; c++ {
		for b := 0; b < cnt; b++ {
			plane := dx[((b0+b)*g.C+c)*g.H*g.W : ((b0+b)*g.C+c+1)*g.H*g.W]
			if g.SH == 2 && g.SW == 2 && len(ph.taps) > 0 && ph.hp > 0 { // a plane at a time
				src := yg[c*n+b*(g.OH+m.padR)*m.wp:]
				scatterHalfRows(plane[ph.p*g.W:], 2*g.W, src, m.wp, ph.hp, ph.wq, ph.q)
				continue
			}
			for i := 0; i < ph.hp; i++ {
				dst := plane[(g.SH*i+ph.p)*g.W+ph.q:]
				if len(ph.taps) == 0 {
					for j := 0; j < ph.wq; j++ {
						dst[g.SW*j] = 0
					}
					continue
				}
				src := yg[c*n+(b*(g.OH+m.padR)+i)*m.wp:]
				for j := 0; j < ph.wq; j++ {
					dst[g.SW*j] = src[j]
				}
			}
		}
	}
}

// group computes the input gradient of channel blocks [cb0,cb1) of the group at image b0 whose
// dY planes are in xg, one phase after the other through the grid yg.
func (sg *stridedGrad) group(a, xg, yg []float32, b0, cb0, cb1 int, dx []float32) {
	cnt, n := sg.m.span(b0)
	c0, c1 := cb0*tileRows, min(sg.g.C, cb1*tileRows)
	for i := range sg.phases {
		ph := &sg.phases[i]
		if len(ph.taps) > 0 {
			sg.m.tiles(len(ph.off), ph.off, a[ph.at:], nil, xg, yg, n, 0, n, cb0, cb1)
		}
		sg.scatter(ph, yg, n, b0, cnt, c0, c1, dx)
	}
}

// convBackwardDataStrided is convBackwardData of a strided geometry on the implicit path.
func convBackwardDataStrided(sg *stridedGrad, s *scratch, w, dy, dx []float32) {
	a := slot[float32](s, slotFlipped, sg.m.o4*sg.cols)
	sg.pack(w, a)
	sg.m.overGroups(s, dy, func(xg, yg []float32, b0, cb0, cb1 int) { sg.group(a, xg, yg, b0, cb0, cb1, dx) })
}
