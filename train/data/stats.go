package data

import "math"

// ChannelStats returns the mean and population standard deviation of each channel of d, on the
// 0..1 scale (pixel/255): the Mean and Std a LoaderConfig wants. It counts a histogram of the
// 256 byte values per channel, which is exact and cheaper than summing floats. An empty set gives
// zeros.
func ChannelStats(d Dataset) (mean, std []float64) {
	c, h, w := d.Shape()
	mean, std = make([]float64, c), make([]float64, c)
	if c <= 0 || h <= 0 || w <= 0 || d.Len() == 0 {
		return mean, std
	}
	hist := make([][256]uint64, c)
	plane := h * w
	for i := 0; i < d.Len(); i++ {
		pix, _ := d.Image(i)
		for ch := range hist {
			hc := &hist[ch]
			for _, v := range pix[ch*plane : (ch+1)*plane] {
				hc[v]++
			}
		}
	}
	count := float64(d.Len()) * float64(plane)
	for ch, hc := range hist {
		var sum float64
		for v, k := range hc {
			sum += float64(v) * float64(k)
		}
		m := sum / 255 / count
		var ss float64
		for v, k := range hc {
			dv := float64(v)/255 - m
			ss += dv * dv * float64(k)
		}
		mean[ch], std[ch] = m, math.Sqrt(ss/count)
	}
	return mean, std
}
