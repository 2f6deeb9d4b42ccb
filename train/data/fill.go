package data

// fill writes batch b of an epoch into buf: rows of the examples at positions b*Batch… of order,
// augmented and normalised, then zero rows up to Batch.
func (l *Loader) fill(buf *Batch, order []int, epoch, b int) {
	bs := l.cfg.Batch
	start := b * bs
	end := min(start+bs, l.n)
	size := l.c * l.h * l.w
	buf.N = end - start
	buf.Indices = buf.Indices[:buf.N]
	for r := 0; r < buf.N; r++ {
		p := start + r
		idx := order[p]
		pix, label := l.d.Image(idx)
		buf.Indices[r], buf.Labels[r] = idx, label
		dy, dx, flip := l.augmentation(epoch, p)
		if l.lut64 != nil {
			writeImage(buf.f64[r*size:(r+1)*size], pix, l.lut64, l.h, l.w, l.cfg.Augment.Pad, dy, dx, flip)
		} else {
			writeImage(buf.f32[r*size:(r+1)*size], pix, l.lut32, l.h, l.w, l.cfg.Augment.Pad, dy, dx, flip)
		}
	}
	for r := buf.N; r < bs; r++ {
		buf.Labels[r] = 0
	}
	clear(buf.f32[min(buf.N*size, len(buf.f32)):])
	clear(buf.f64[min(buf.N*size, len(buf.f64)):])
}

// augmentation is the crop offset (dy, dx in [0, 2*Pad]) and flip of the example at position p
// of epoch: a hash of (Seed, epoch, p), so it never depends on which goroutine computes it.
func (l *Loader) augmentation(epoch, p int) (dy, dx int, flip bool) {
	a := l.cfg.Augment
	if a.Pad == 0 && !a.Flip {
		return 0, 0, false
	}
	h := hash3(uint64(l.cfg.Seed), uint64(epoch), uint64(p))
	span := uint64(2*a.Pad + 1)
	dy, dx = int(h%span), int((h>>21)%span)
	return dy, dx, a.Flip && h>>63 == 1
}

// writeImage writes one CHW image into dst through the per-channel tables lut: the image padded
// with pad black pixels on each side, cropped to h×w at (dy, dx) and, when flip, mirrored left to
// right. A padded pixel is a 0 byte, so it takes the normalised value of black, lut[c][0].
func writeImage[T float32 | float64](dst []T, pix []uint8, lut [][256]T, h, w, pad, dy, dx int, flip bool) {
	plane := h * w
	offY, offX := dy-pad, dx-pad // crop(y, x) = image(y+offY, x+offX)
	for ch := range lut {
		t := &lut[ch]
		black := t[0]
		src, out := pix[ch*plane:(ch+1)*plane], dst[ch*plane:(ch+1)*plane]
		for y := 0; y < h; y++ {
			row := out[y*w : (y+1)*w]
			sy := y + offY
			if sy < 0 || sy >= h {
				fillRow(row, black)
				continue
			}
			srow := src[sy*w : (sy+1)*w]
			if !flip {
				// image column x+offX is inside for x in [-offX, w-offX).
				x0, x1 := inside(-offX, w-offX, w)
				fillRow(row[:x0], black)
				for x := x0; x < x1; x++ {
					row[x] = t[srow[x+offX]]
				}
				fillRow(row[x1:], black)
				continue
			}
			// Mirrored: out(y, x) = crop(y, w-1-x), image column w-1-x+offX, inside for x in
			// [offX, w+offX).
			x0, x1 := inside(offX, w+offX, w)
			fillRow(row[:x0], black)
			for x := x0; x < x1; x++ {
				row[x] = t[srow[w-1-x+offX]]
			}
			fillRow(row[x1:], black)
		}
	}
}

// inside clips [a, b) to [0, w), empty when they do not meet.
func inside(a, b, w int) (int, int) {
	a = min(max(a, 0), w)
	return a, min(max(b, a), w)
}

// fillRow sets every element of row to v.
func fillRow[T float32 | float64](row []T, v T) {
	for i := range row {
		row[i] = v
	}
}
