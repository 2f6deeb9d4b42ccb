package data_test

import (
	"testing"

	"github.com/resnet-go/resnet/train/data"
)

// BenchmarkLoaderCIFAR measures a CIFAR-shaped batch of 128 with the paper's augmentation.
func BenchmarkLoaderCIFAR(b *testing.B) {
	s, err := data.Synthetic(1024, 3, 32, 32, 10, 1)
	if err != nil {
		b.Fatal(err)
	}
	l, err := data.NewLoader(s, data.LoaderConfig{Batch: 128, Shuffle: true, DropLast: true,
		Augment: data.Augment{Pad: 4, Flip: true}, Mean: []float64{0.5, 0.5, 0.5}, Std: []float64{0.25, 0.25, 0.25}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for e := 0; b.Loop(); e++ {
		it := l.Epoch(e)
		for _, ok := it.Next(); ok; _, ok = it.Next() {
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*l.Batches()), "ns/batch")
}
