package ops

// The implicit-GEMM path of the float32 convolutions whose kernel is odd with half its size as
// padding (3x3 pad 1, 1x1 pad 0, 7x7 pad 3, ...), at any stride: the forward pass, the filter
// gradient, and for stride 1 the input gradient (the forward pass of the transposed convolution),
// without an im2col matrix.
//
// A group of consecutive images is copied once per channel into a padded layout where every
// shifted read of the kernel is a contiguous run. With stride 1 a channel's plane is the image;
// with stride s it is split into the s x s phase planes x[c, s·i+p, s·j+q] (the phases the kernel
// reaches), each OH x OW, so that a tap again reads a plane shifted by a whole number of rows and
// columns. A plane is stored as rows of OW values followed by padC zeros (a row's right padding is
// the next row's left padding), with padR zero rows before the first image and after each image
// (an image's bottom padding is the next one's top padding). The output at (b, i, j) then sits at
// the grid position q = (padR + b·(OH+padR) + i)·Wp + j (Wp = OW+padC), and kernel tap (c, u, v)
// reads its plane at q + di·Wp + dj: a matrix product whose second factor's rows are the same
// buffer at K fixed offsets. The grid's junk positions (the padding columns and rows) are
// computed and dropped. The micro-kernels of package vec32 (AVX2 and FMA) do the arithmetic at
// close to the CPU's peak, where im2col copied every input KH·KW times and BLAS packed it once
// more. Compared with im2col and BLAS the sums are the same terms in another order, each product
// fused with its addition.

// implicitPixels is about how many output positions a group holds: small planes (8x8) are
// grouped so that each kernel call runs long, large ones (32x32 and up) go one image at a time.
const implicitPixels = 1024

// The forward tiles run over blocks of kChunk taps (the filter block of a tile, 16 KB, stays in
// the L1 cache; the sums continue across blocks exactly) and over chunks of grid positions
// whose input for those taps is about chunkFloats (96 KB, within the L2 cache).
const (
	kChunk      = 256
	chunkFloats = 24 << 10
)

// smallInput is the padded input (in floats, 256 KB) up to which a forward tile runs over all
// taps in one call: the input stays in the L2 cache anyway, and each tile's filter rows then
// stream from memory in order, where blocks of kChunk taps jumped from row to row. Measured at
// batch 1 (two workers, six alternations): ResNet-18's 7x7x512 convolution 1.55 -> 1.37 ms, its
// 14x14x256 one unchanged.
const smallInput = 64 << 10

const (
	tileRows   = 4  // output channels per forward tile (and per filter-gradient tile)
	tileCols   = 24 // grid positions per forward tile
	narrowCols = 8  // grid positions per narrow forward tile, for the last positions of a grid
	tileTaps   = 3  // kernel taps per filter-gradient tile
)

// implicitGo makes the implicit path run the Go definitions of its micro-kernels (tests set it,
// together with implicitConv, to test the path on any CPU and the assembly against Go).
var implicitGo bool

// implicit is the padded layout of one convolution geometry.
type implicit struct {
	g          convGeom
	group      int      // images per group
	phases     [][2]int // the phases (p, q) a tap reads, in plane order
	padR, padC int      // zero rows between images, zero columns between rows
	wp         int      // row length OW+padC
	lead       int      // zeros before the first row, for the first row's left padding
	q0         int      // grid position of the first output (the first image's first row)
	n          int      // grid positions computed for a full group: a multiple of tileCols
	chanLen    int      // buffer length per plane
	off        []int    // per tap (c, u, v) in filter order, then repeats of tap 0 up to a multiple of 2·tileTaps
	o4         int      // output channels rounded up to tileRows
	chunk      int      // grid positions per pass of the forward tiles: a multiple of tileCols
}

// floorDiv and floorMod divide rounding towards minus infinity (b > 0).
func floorDiv(a, b int) int { return (a - floorMod(a, b)) / b }
func floorMod(a, b int) int { return ((a % b) + b) % b }

// implicitFor returns the layout of g, or nil when g does not take the implicit path.
func implicitFor(g convGeom) *implicit {
	if !implicitConv || g.KH != 2*g.PH+1 || g.KW != 2*g.PW+1 {
		return nil
	}
	// The taps' phases and shifts: row u reads phase floorMod(u-PH, SH), shifted by
	// floorDiv(u-PH, SH) rows; the same for columns.
	usedP, usedQ := make([]bool, g.SH), make([]bool, g.SW)
	m := &implicit{g: g}
	for u := 0; u < g.KH; u++ {
		usedP[floorMod(u-g.PH, g.SH)] = true
		m.padR = max(m.padR, abs(floorDiv(u-g.PH, g.SH)))
	}
	for v := 0; v < g.KW; v++ {
		usedQ[floorMod(v-g.PW, g.SW)] = true
		m.padC = max(m.padC, abs(floorDiv(v-g.PW, g.SW)))
	}
	slot := make([][]int, g.SH)
	for p := range usedP {
		slot[p] = make([]int, g.SW)
		for q := range usedQ {
			if usedP[p] && usedQ[q] {
				slot[p][q] = len(m.phases)
				m.phases = append(m.phases, [2]int{p, q})
			}
		}
	}
	m.wp, m.lead = g.OW+m.padC, m.padC
	m.group = max(1, min(g.B, ceilDiv(implicitPixels, g.OH*g.OW)))
	m.q0 = m.padR * m.wp
	m.n = m.gridLen(m.group)
	m.chanLen = m.lead + m.q0 + m.n + m.padR*m.wp + m.padC
	K := g.K()
	m.off = make([]int, ceilDiv(K, 2*tileTaps)*2*tileTaps)
	for c := 0; c < g.C; c++ {
		for u := 0; u < g.KH; u++ {
			for v := 0; v < g.KW; v++ {
				pl := c*len(m.phases) + slot[floorMod(u-g.PH, g.SH)][floorMod(v-g.PW, g.SW)]
				m.off[(c*g.KH+u)*g.KW+v] = pl*m.chanLen + floorDiv(u-g.PH, g.SH)*m.wp + floorDiv(v-g.PW, g.SW)
			}
		}
	}
	for i := K; i < len(m.off); i++ {
		m.off[i] = m.off[0]
	}
	m.o4 = ceilDiv(g.O, tileRows) * tileRows
	planes := min(g.C, ceilDiv(kChunk, g.KH*g.KW)+1) * len(m.phases)
	tile := tileCols // positions per kernel call
	if wideTiles {
		tile *= 2
	}
	m.chunk = max(tile, (chunkFloats/planes-2*m.q0)/tile*tile)
	if g.KH*g.KW == 1 {
		// A 1x1 kernel's taps read K planes far apart: one tile at a time keeps the lines it
		// read in L1 across the output blocks (measured: 1024→256 at 14x14 62 → 84 GFLOPS).
		m.chunk = tile
	}
	return m
}

func abs(a int) int { return max(a, -a) }

// gridLen is the length of a group of cnt images on the grid, the rows of its output buffers:
// the positions from q0 to just past the last output, rounded up to whole tiles.
func (m *implicit) gridLen(cnt int) int { return ceilDiv(m.gridSpan(cnt), tileCols) * tileCols }

// gridEnd is how many of the group's grid positions the forward tiles compute: to just past the
// last output, rounded up to whole narrow tiles. The positions from there to gridLen are junk
// never read; a single 7x7 image (ResNet's last stage at batch 1) has 56 positions in a grid of
// 72, a third of the arithmetic saved.
func (m *implicit) gridEnd(cnt int) int { return ceilDiv(m.gridSpan(cnt), narrowCols) * narrowCols }

func (m *implicit) gridSpan(cnt int) int {
	g := m.g
	return ((cnt-1)*(g.OH+m.padR) + g.OH) * m.wp
}

func (m *implicit) groups() int { return ceilDiv(m.g.B, m.group) }

// span returns the image count and the grid positions of the group starting at image b0.
func (m *implicit) span(b0 int) (cnt, n int) {
	cnt = min(m.group, m.g.B-b0)
	return cnt, m.gridLen(cnt)
}

// inputLen is the length of a group's padded input: every plane of every channel.
func (m *implicit) inputLen() int { return m.g.C * len(m.phases) * m.chanLen }

// fillInput writes the planes of channels [c0,c1) of images [b0,b0+cnt) of x into xg.
func (m *implicit) fillInput(x []float32, b0, cnt, c0, c1 int, xg []float32) {
	g := m.g
	hw := g.H * g.W
	for c := c0; c < c1; c++ {
		img := func(b int) []float32 { return x[((b0+b)*g.C+c)*hw : ((b0+b)*g.C+c+1)*hw] }
		if g.SH == 1 && g.SW == 1 { // one phase, the image itself: whole planes
			m.fillPlanes(xg[c*m.chanLen:(c+1)*m.chanLen], m.lead+m.q0, cnt, img)
			continue
		}
		if g.SH == 2 && g.SW == 2 { // ResNet's strided convolutions: whole phase planes
			for k, ph := range m.phases {
				pl := c*len(m.phases) + k
				m.fillPhase2(xg[pl*m.chanLen:(pl+1)*m.chanLen], m.lead+m.q0, cnt, ph, img)
			}
			continue
		}
		for k, ph := range m.phases {
			pl := c*len(m.phases) + k
			m.fillPlane(xg[pl*m.chanLen:(pl+1)*m.chanLen], m.lead+m.q0, cnt, func(b, i int, row []float32) {
				r := g.SH*i + ph[0]
				if r >= g.H {
					clear(row)
					return
				}
				src := x[((b0+b)*g.C+c)*hw+r*g.W+ph[1] : ((b0+b)*g.C+c)*hw+(r+1)*g.W]
				cols := min(len(row), ceilDiv(len(src), g.SW)) // the columns SW·j + q inside the image
				gatherStrided(row[:cols], src, g.SW)
				clear(row[cols:])
			})
		}
	}
}

// gatherStrided sets dst[j] = src[s·j] for every j of dst.
func gatherStrided[T float](dst, src []T, s int) {
	if len(dst) == 0 {
		return
	}
	src = src[:s*(len(dst)-1)+1]
	if s == 2 { // the strided convolutions of ResNets; a constant stride the compiler can unroll
		for j := range dst {
			dst[j] = src[2*j]
		}
		return
	}
	for j := range dst {
		dst[j] = src[s*j]
	}
}

// fillGrad writes output channels [o0,o1) of images [b0,b0+cnt) of dy into dyg, rows of length
// n on the output grid (zero at junk positions); rows past O are zero.
func (m *implicit) fillGrad(dy []float32, b0, cnt, n, o0, o1 int, dyg []float32) {
	g := m.g
	ohw := g.OH * g.OW
	for o := o0; o < o1; o++ {
		if o >= g.O {
			clear(dyg[o*n : (o+1)*n])
			continue
		}
		m.fillPlanes(dyg[o*n:(o+1)*n], 0, cnt, func(b int) []float32 {
			return dy[((b0+b)*g.O+o)*ohw : ((b0+b)*g.O+o+1)*ohw]
		})
	}
}

// fillPlane writes one plane: start zeros, then per image OH rows, each of OW values written by
// row followed by padC zeros, then padR zero rows, then zeros to the end of the plane (which may
// cut the last padding). Every element is written, so buffers can be shared between ops.
func (m *implicit) fillPlane(pl []float32, start, cnt int, row func(b, i int, row []float32)) {
	g := m.g
	clear(pl[:start])
	pos := start
	for b := 0; b < cnt; b++ {
		for i := 0; i < g.OH; i++ {
			r := pl[pos : pos+m.wp]
			row(b, i, r[:g.OW])
			for j := g.OW; j < m.wp; j++ {
				r[j] = 0
			}
			pos += m.wp
		}
		end := min(pos+m.padR*m.wp, len(pl))
		clear(pl[pos:end])
		pos = end
	}
	clear(pl[pos:])
}

// fillPlanes is fillPlane where image b's rows are the OH x OW plane src(b), copied a plane at a
// time (the row callbacks and copies cost as much as the tiles' arithmetic on 8x8 images).
func (m *implicit) fillPlanes(pl []float32, start, cnt int, src func(b int) []float32) {
	g := m.g
	clear(pl[:start])
	pos := start
	for b := 0; b < cnt; b++ {
		padRows(pl[pos:], m.wp, src(b), g.OW, g.OH, g.OW)
		pos += g.OH * m.wp
		end := min(pos+m.padR*m.wp, len(pl))
		clear(pl[pos:end])
		pos = end
	}
	clear(pl[pos:])
}

// fillPhase2 is fillPlanes for phase ph = (p, q) of a stride-2 geometry: image b's rows are rows
// p, p+2, ... of img(b), each of its columns q, q+2, ...; rows and columns past the image are zero.
func (m *implicit) fillPhase2(pl []float32, start, cnt int, ph [2]int, img func(b int) []float32) {
	g := m.g
	rows := min(g.OH, ceilDiv(g.H-ph[0], 2))
	cols := min(g.OW, ceilDiv(g.W-ph[1], 2))
	if cols <= 0 {
		rows = 0
	}
	clear(pl[:start])
	pos := start
	for b := 0; b < cnt; b++ {
		if rows > 0 {
			gatherEvenRows(pl[pos:], m.wp, img(b)[ph[0]*g.W+ph[1]:], 2*g.W, rows, cols)
		}
		clear(pl[pos+rows*m.wp : pos+g.OH*m.wp])
		pos += g.OH * m.wp
		end := min(pos+m.padR*m.wp, len(pl))
		clear(pl[pos:end])
		pos = end
	}
	clear(pl[pos:])
}

// tailFilters returns the filters of the last block of output channels padded with zero rows to
// tileRows (in slot slotPermuted), or nil when O is a multiple of tileRows.
func (m *implicit) tailFilters(s *scratch, w []float32) []float32 {
	g := m.g
	if g.O == m.o4 {
		return nil
	}
	K := g.K()
	o0 := m.o4 - tileRows
	a := slot[float32](s, slotPermuted, tileRows*K)
	n := copy(a, w[o0*K:])
	clear(a[n:])
	return a
}

// forwardBlocks computes output channel blocks [ob0,ob1) of a group of cnt images on the grid:
// yg[o·n + q-q0], reading the filters from w (O x K), or from tail for a last block of fewer
// than tileRows.
func (m *implicit) forwardBlocks(w, tail, xg, yg []float32, cnt, n, ob0, ob1 int) {
	m.tiles(m.g.K(), m.off, w, tail, xg, yg, n, 0, m.gridEnd(cnt), ob0, ob1)
}

// tiles is forwardBlocks for any K taps at grid offsets off, over the grid positions
// [start,end) (end a multiple of narrowCols, at most n): the strided input gradient runs it with
// each phase's taps. Each output is one tile's sum over the taps in order, whichever tiles and
// ranges compute it: the same bits for any split.
func (m *implicit) tiles(K int, off []int, w, tail, xg, yg []float32, n, start, end, ob0, ob1 int) {
	base := m.lead + m.q0
	kc := kChunk
	if m.inputLen() <= smallInput {
		kc = K
	}
	last := m.o4/tileRows - 1 // the block that reads tail, when there is one
	for k0 := 0; k0 < K; k0 += kc {
		k1, add := min(K, k0+kc), k0 > 0
		for t0 := start; t0 < end; t0 += m.chunk {
			t1 := min(end, t0+m.chunk)
			for ob := ob0; ob < ob1; ob++ {
				a := w[ob*tileRows*K+k0:]
				if tail != nil && ob == last {
					a = tail[k0:]
				}
				t := t0
				pair := wideTiles && ob+1 < ob1 && (tail == nil || ob+1 < last) && t0+2*tileCols <= t1
				if pair {
					// two blocks at once: 48 positions of the input serve 8 filters per call
					for ; t+2*tileCols <= t1; t += 2 * tileCols {
						convTile8x48(k1-k0, a, K, xg, base+t, off[k0:k1], yg[ob*tileRows*n+t:], n, add)
					}
					blockTiles(k1-k0, a[tileRows*K:], K, xg, base, off[k0:k1], yg[(ob+1)*tileRows*n:], n, add, t, t1)
				}
				blockTiles(k1-k0, a, K, xg, base, off[k0:k1], yg[ob*tileRows*n:], n, add, t, t1)
				if pair {
					ob++ // the second block is done too
				}
			}
		}
	}
}

// blockTiles computes one block of output channels over grid positions [t,t1) (t1-t a multiple
// of narrowCols): the widest tiles first.
func blockTiles(k int, a []float32, lda int, xg []float32, base int, off []int, c []float32, ldc int, add bool, t, t1 int) {
	for t < t1 {
		switch {
		case wideTiles && t+2*tileCols <= t1:
			convTile4x48(k, a, lda, xg, base+t, off, c[t:], ldc, add)
			t += 2 * tileCols
		case t+tileCols <= t1:
			convTile4x24(k, a, lda, xg, base+t, off, c[t:], ldc, add)
			t += tileCols
		default:
			convTile4x8(k, a, lda, xg, base+t, off, c[t:], ldc, add)
			t += narrowCols
		}
	}
}

// unfill copies output channels [o0,o1) of a group of cnt images from the grid yg (rows of
// length n) into y (B,O,OH,OW) at image b0, adding bias[o] when bias is not nil.
func (m *implicit) unfill(yg []float32, n, b0, cnt, o0, o1 int, y, bias []float32) {
	g := m.g
	ohw := g.OH * g.OW
	for o := o0; o < o1; o++ {
		row := yg[o*n : (o+1)*n]
		for b := 0; b < cnt; b++ {
			plane := y[((b0+b)*g.O+o)*ohw : ((b0+b)*g.O+o+1)*ohw]
			src := row[b*(g.OH+m.padR)*m.wp:]
			if bias == nil {
				copyRows(plane, g.OW, src, m.wp, g.OH, g.OW)
			} else {
				addRows(plane, g.OW, src, m.wp, g.OH, g.OW, bias[o])
			}
		}
	}
}

// overGroups runs a forward pass of the implicit layout over every group of images: it copies
// the group's input x into the padded layout xg, then has blocks compute output channel blocks
// [ob0,ob1) of the group through the grid yg. With at least as many groups as workers each
// worker takes whole groups; otherwise each group's channels and output blocks are split.
func (m *implicit) overGroups(s *scratch, x []float32, blocks func(xg, yg []float32, b0, ob0, ob1 int)) {
	xLen, yLen := m.inputLen(), m.o4*m.n
	nb := m.o4 / tileRows
	if p := Workers(); m.groups() >= p || p == 1 {
		p = workersFor(m.groups())
		bufs := buffers[float32](s, p, xLen+yLen)
		parallelEach(m.groups(), p, func(wk, gi int) {
			b0 := gi * m.group
			cnt, _ := m.span(b0)
			xg, yg := bufs[wk][:xLen], bufs[wk][xLen:]
			m.fillInput(x, b0, cnt, 0, m.g.C, xg)
			blocks(xg, yg, b0, 0, nb)
		})
		return
	}
	buf := buffers[float32](s, 1, xLen+yLen)[0]
	xg, yg := buf[:xLen], buf[xLen:]
	for b0 := 0; b0 < m.g.B; b0 += m.group {
		cnt, _ := m.span(b0)
		parallel(m.g.C, workersFor(m.g.C), func(_, c0, c1 int) { m.fillInput(x, b0, cnt, c0, c1, xg) })
		parallel(nb, workersFor(nb), func(_, ob0, ob1 int) { blocks(xg, yg, b0, ob0, ob1) })
	}
}

// convForwardImplicit is convForward on the implicit path.
func convForwardImplicit(m *implicit, s *scratch, x, w, bias, y []float32) {
	tail := m.tailFilters(s, w)
	if p := Workers(); m.groups() < p && m.splitPositions() {
		m.overPositions(s, x, w, tail, y, bias)
		return
	}
	m.overGroups(s, x, func(xg, yg []float32, b0, ob0, ob1 int) {
		cnt, n := m.span(b0)
		m.forwardBlocks(w, tail, xg, yg, cnt, n, ob0, ob1)
		m.unfill(yg, n, b0, cnt, ob0*tileRows, min(m.g.O, ob1*tileRows), y, bias)
	})
}

// splitPositions is whether workers sharing a group do better splitting its grid positions than
// its output channels: each then reads all the filters (O·K values) where it would read all the
// padded input. Measured at batch 1 (BenchmarkConv, two workers): ResNet-18's 56x56 layers
// 195 -> 240 Gflop/s and its 28x28 ones 197 -> 227, where the input is 5.7x and 0.8x the
// filters; its 14x14 and 7x7 layers (0.1x) are slower split by positions.
func (m *implicit) splitPositions() bool { return m.g.O*m.g.K() < 2*m.inputLen() }

// overPositions is convForwardImplicit for fewer groups than workers, split by grid positions:
// per group, the workers fill the padded input by channels, compute all output channels over
// their ranges of positions, then copy the output out by channels.
func (m *implicit) overPositions(s *scratch, x, w, tail, y, bias []float32) {
	g := m.g
	xLen, yLen := m.inputLen(), m.o4*m.n
	buf := buffers[float32](s, 1, xLen+yLen)[0]
	xg, yg := buf[:xLen], buf[xLen:]
	const step = 2 * tileCols // a range of positions is whole wide tiles, but for the last
	for b0 := 0; b0 < g.B; b0 += m.group {
		cnt, n := m.span(b0)
		end := m.gridEnd(cnt)
		parallel(g.C, workersFor(g.C), func(_, c0, c1 int) { m.fillInput(x, b0, cnt, c0, c1, xg) })
		steps := ceilDiv(end, step)
		parallel(steps, workersFor(steps), func(_, t0, t1 int) {
			m.tiles(g.K(), m.off, w, tail, xg, yg, n, t0*step, min(end, t1*step), 0, m.o4/tileRows)
		})
		parallel(g.O, workersFor(g.O), func(_, o0, o1 int) { m.unfill(yg, n, b0, cnt, o0, o1, y, bias) })
	}
}

// filterBlocks adds to dw (O x K, filter order) the filter gradient of output channel blocks
// [ob0,ob1) over one group: the grid dY dyg (rows of length n, zero at junk positions) against
// the grid input xg. With add false the first group's sums overwrite dw.
func (m *implicit) filterBlocks(dyg, xg []float32, n, ob0, ob1 int, dw []float32, add bool) {
	g := m.g
	K := g.K()
	base := m.lead + m.q0
	var acc [tileRows * 2 * tileTaps * 8]float32  // lanes, (r·taps + j)·8 + l
	var sums [2 * tileRows * 2 * tileTaps]float32 // finished sums, r·taps + j
	for ob := ob0; ob < ob1; {
		rows := tileRows // two blocks at once where the wide tiles can take them
		if wideTiles && ob+1 < ob1 {
			rows *= 2
		}
		dy := dyg[ob*tileRows*n:]
		for t := 0; t < K; {
			taps := tileTaps
			wide := wideTiles && t+tileTaps < K // m.off holds a whole wide tile
			if wide {
				taps *= 2
			}
			if wide && rows > tileRows {
				dotSums8x6(n, dy, n, xg, base, (*[2 * tileTaps]int)(m.off[t:t+taps]), &sums)
			} else {
				for r0 := 0; r0 < rows; r0 += tileRows {
					if wide {
						dotTile4x6(n, dy[r0*n:], n, xg, base, (*[2 * tileTaps]int)(m.off[t:t+taps]), &acc)
					} else {
						dotTile4x3(n, dy[r0*n:], n, xg, base, (*[tileTaps]int)(m.off[t:t+taps]), (*[tileRows * tileTaps * 8]float32)(acc[:]))
					}
					laneSums(acc[:tileRows*taps*8], sums[r0*taps:])
				}
			}
			for r := 0; r < rows && ob*tileRows+r < g.O; r++ {
				o := ob*tileRows + r
				row, s := dw[o*K+t:o*K+min(K, t+taps)], sums[r*taps:]
				if add {
					for j := range row {
						row[j] += s[j]
					}
				} else {
					copy(row, s[:len(row)])
				}
			}
			t += taps
		}
		ob += rows / tileRows
	}
}

// convBackwardFilterImplicit is convBackwardFilter on the implicit path. The groups are split
// across workers in fixed contiguous ranges and the workers' sums added in worker order, so the
// result is reproducible bit for bit for a given worker count.
func convBackwardFilterImplicit(m *implicit, s *scratch, x, dy, dw []float32) {
	g := m.g
	K := g.K()
	xLen, dyLen := m.inputLen(), m.o4*m.n
	nb := m.o4 / tileRows
	if p := Workers(); m.groups() >= p || p == 1 {
		p = workersFor(m.groups())
		// per worker: the two grids, then (but for worker 0, which sums into dw) its own dW
		bufs := buffers[float32](s, p, xLen+dyLen+g.O*K)
		accOf := func(wk int) []float32 {
			if wk == 0 {
				return dw
			}
			return bufs[wk][xLen+dyLen : xLen+dyLen+g.O*K]
		}
		parallel(m.groups(), p, func(wk, lo, hi int) {
			xg, dyg := bufs[wk][:xLen], bufs[wk][xLen:xLen+dyLen]
			for gi := lo; gi < hi; gi++ {
				b0 := gi * m.group
				cnt, n := m.span(b0)
				m.fillInput(x, b0, cnt, 0, g.C, xg)
				m.fillGrad(dy, b0, cnt, n, 0, m.o4, dyg)
				m.filterBlocks(dyg, xg, n, 0, nb, accOf(wk), gi > lo)
			}
		})
		for wk := 1; wk < p; wk++ {
			addTo(dw, accOf(wk))
		}
		return
	}
	buf := buffers[float32](s, 1, xLen+dyLen)[0]
	xg, dyg := buf[:xLen], buf[xLen:]
	for b0 := 0; b0 < g.B; b0 += m.group {
		cnt, n := m.span(b0)
		parallel(g.C, workersFor(g.C), func(_, c0, c1 int) { m.fillInput(x, b0, cnt, c0, c1, xg) })
		parallel(m.o4, workersFor(m.o4), func(_, o0, o1 int) { m.fillGrad(dy, b0, cnt, n, o0, o1, dyg) })
		parallel(nb, workersFor(nb), func(_, ob0, ob1 int) {
			m.filterBlocks(dyg, xg, n, ob0, ob1, dw, b0 > 0)
		})
	}
}

// convTileGo is the Go definition of vec32.ConvTile4x24 (cols 24) and vec32.ConvTile4x8 (cols 8)
// on slices: b's origin is b[bi].
func convTileGo(cols, k int, a []float32, lda int, b []float32, bi int, off []int, c []float32, ldc int, add bool) {
	for r := 0; r < tileRows; r++ {
		var buf [tileCols]float32
		acc := buf[:cols]
		if add {
			copy(acc, c[r*ldc:r*ldc+cols])
		}
		for i := 0; i < k; i++ {
			av := a[r*lda+i]
			row := b[bi+off[i] : bi+off[i]+cols]
			for j := range acc {
				acc[j] += av * row[j]
			}
		}
		copy(c[r*ldc:r*ldc+cols], acc)
	}
}

// dotTile4x3Go is the Go definition of vec32.DotTile4x3 on slices: x's origin is x[xi].
func dotTile4x3Go(n int, dy []float32, ldy int, x []float32, xi int, off *[tileTaps]int, acc *[tileRows * tileTaps * 8]float32) {
	for r := 0; r < tileRows; r++ {
		d := dy[r*ldy : r*ldy+n]
		for j := 0; j < tileTaps; j++ {
			xs := x[xi+off[j] : xi+off[j]+n]
			l := acc[(r*tileTaps+j)*8 : (r*tileTaps+j+1)*8]
			clear(l)
			for s := 0; s < n; s += 8 {
				for q := 0; q < 8; q++ {
					l[q] += d[s+q] * xs[s+q]
				}
			}
		}
	}
}

// convTile4x48Pair is convTile4x48 as the two tiles of 24 positions it computes (the fallback
// where the wide kernel is missing: the same bits).
func convTile4x48Pair(k int, a []float32, lda int, b []float32, bi int, off []int, c []float32, ldc int, add bool) {
	convTile4x24(k, a, lda, b, bi, off, c, ldc, add)
	convTile4x24(k, a, lda, b, bi+tileCols, off, c[tileCols:], ldc, add)
}

// convTile8x48Pair is convTile8x48 as the two tiles of four rows it computes.
func convTile8x48Pair(k int, a []float32, lda int, b []float32, bi int, off []int, c []float32, ldc int, add bool) {
	convTile4x48(k, a, lda, b, bi, off, c, ldc, add)
	convTile4x48(k, a[tileRows*lda:], lda, b, bi, off, c[tileRows*ldc:], ldc, add)
}

// laneSums finishes the filter-gradient tiles' sums: sums[i] is the sum of lanes acc[8i:8i+8],
// in the order vec32.DotSums8x6 sums them in registers.
func laneSums(acc, sums []float32) {
	for i := range len(acc) / 8 {
		l := acc[i*8 : i*8+8]
		sums[i] = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
	}
}

// dotSums8x6Go is dotSums8x6 from two dotTile4x6 tiles, their lanes summed in Go.
func dotSums8x6Go(n int, dy []float32, ldy int, x []float32, xi int, off *[2 * tileTaps]int, sums *[2 * tileRows * 2 * tileTaps]float32) {
	var acc [tileRows * 2 * tileTaps * 8]float32
	for h := 0; h < 2; h++ {
		dotTile4x6(n, dy[h*tileRows*ldy:], ldy, x, xi, off, &acc)
		laneSums(acc[:], sums[h*tileRows*2*tileTaps:])
	}
}

// dotTile4x6Pair is dotTile4x6 as the two tiles of three taps it computes.
func dotTile4x6Pair(n int, dy []float32, ldy int, x []float32, xi int, off *[2 * tileTaps]int, acc *[tileRows * 2 * tileTaps * 8]float32) {
	var half [tileRows * tileTaps * 8]float32
	for h := 0; h < 2; h++ {
		dotTile4x3(n, dy, ldy, x, xi, (*[tileTaps]int)(off[h*tileTaps:]), &half)
		for r := 0; r < tileRows; r++ {
			copy(acc[(r*2+h)*tileTaps*8:(r*2+h+1)*tileTaps*8], half[r*tileTaps*8:(r+1)*tileTaps*8])
		}
	}
}

// padRowsGo sets rows rows of dst (row stride ldd ≥ w) to the rows of w values of src (row stride
// lds), each followed by ldd-w zeros.
func padRowsGo(dst []float32, ldd int, src []float32, lds, rows, w int) {
	for r := 0; r < rows; r++ {
		d := dst[r*ldd : (r+1)*ldd]
		copy(d[:w], src[r*lds:r*lds+w])
		clear(d[w:])
	}
}

// gatherEvenRowsGo is padRowsGo of every other value of src's rows: dst[r·ldd + j] =
// src[r·lds + 2j] for j < w, then zeros to the row's end.
func gatherEvenRowsGo(dst []float32, ldd int, src []float32, lds, rows, w int) {
	for r := 0; r < rows; r++ {
		d := dst[r*ldd : (r+1)*ldd]
		gatherStrided(d[:w], src[r*lds:], 2)
		clear(d[w:])
	}
}

// scatterHalfRowsGo sets dst[r·ldd + 2j + q] = src[r·lds + j] for r < rows, j < w.
func scatterHalfRowsGo(dst []float32, ldd int, src []float32, lds, rows, w, q int) {
	for r := 0; r < rows; r++ {
		d, s := dst[r*ldd+q:], src[r*lds:r*lds+w]
		d = d[:2*(w-1)+1]
		for j, v := range s {
			d[2*j] = v
		}
	}
}

// copyRowsGo sets rows rows of w values of dst (row stride ldd) to those of src (row stride lds).
func copyRowsGo(dst []float32, ldd int, src []float32, lds, rows, w int) {
	for r := 0; r < rows; r++ {
		copy(dst[r*ldd:r*ldd+w], src[r*lds:r*lds+w])
	}
}

// addRowsGo is copyRowsGo adding bias to every value.
func addRowsGo(dst []float32, ldd int, src []float32, lds, rows, w int, bias float32) {
	for r := 0; r < rows; r++ {
		d, s := dst[r*ldd:r*ldd+w], src[r*lds:r*lds+w]
		for j := range d {
			d[j] = s[j] + bias
		}
	}
}
