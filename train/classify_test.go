package train_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/data"
)

// Classify agrees with Evaluate on the committed checkpoint: the same top-1 error over more
// images than one batch, probabilities in order and summing to at most 1, the data set's names.
func TestClassify(t *testing.T) {
	ck, err := train.LoadCheckpoint("../experiments/fashion-mnist-resnet20")
	require.NoError(t, err)
	test, err := data.Open("builtin", "", "test")
	require.NoError(t, err)
	idx := make([]int, 150) // three batches of at most 64
	for i := range idx {
		idx[i] = i
	}
	sub := test.Subset(idx)

	preds, err := ck.Classify(sub, 3)
	require.NoError(t, err)
	require.Len(t, preds, sub.Len())
	names := data.ClassNames("fashion-mnist", 10)
	wrong := 0
	for i, p := range preds {
		require.Len(t, p.Classes, 3)
		assert.GreaterOrEqual(t, p.Probs[0], p.Probs[1])
		assert.GreaterOrEqual(t, p.Probs[1], p.Probs[2])
		assert.LessOrEqual(t, p.Probs[0]+p.Probs[1]+p.Probs[2], 1+1e-9)
		assert.Greater(t, p.Probs[2], 0.0)
		assert.Equal(t, names[p.Classes[0]], p.Names[0])
		if _, label := sub.Image(i); p.Classes[0] != label {
			wrong++
		}
	}
	ev, err := ck.Evaluator(50)
	require.NoError(t, err)
	defer ev.Close()
	l, err := ck.Loader(sub, 50)
	require.NoError(t, err)
	m, err := train.Evaluate(ev, l)
	require.NoError(t, err)
	assert.InDelta(t, m.Err, float64(wrong)/float64(sub.Len()), 1e-12)
	assert.Less(t, m.Err, 0.15, "the committed ResNet-20 is a good classifier")

	for _, tc := range []struct {
		name string
		d    data.Dataset
		k    int
		want string
	}{
		{"no classes", sub, 0, "top 0 of 10 classes: want 1 to 10"},
		{"more than there are", sub, 11, "top 11 of 10 classes"},
		{"no images", sub.Subset(nil), 1, "no images"},
		{"another shape", &data.Images{C: 3, H: 28, W: 28, Pix: make([]uint8, 3*28*28), Labels: []uint8{0}, NumClasses: 10}, 1, "3×28×28 images; checkpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ck.Classify(tc.d, tc.k)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// LogSoftmax refuses a buffer of the wrong length instead of filling part of it.
func TestLogSoftmaxBufferLength(t *testing.T) {
	logits := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, 0, 0, 0}))
	got := train.LogSoftmax(logits, 1, make([]float64, 3))
	assert.InDeltaSlice(t, []float64{-1.0986123, -1.0986123, -1.0986123}, got, 1e-6)
	assert.PanicsWithValue(t, "train: LogSoftmax of row 0 of logits (2, 3) into 2 values: want a row of (N, K) logits and K values",
		func() { train.LogSoftmax(logits, 0, make([]float64, 2)) })
	assert.Panics(t, func() { train.LogSoftmax(logits, 2, make([]float64, 3)) })
}

// EvaluateProgress reports every batch, in order, with losses that average to the metrics'.
func TestEvaluateProgress(t *testing.T) {
	ck, err := train.LoadCheckpoint("../experiments/fashion-mnist-resnet20")
	require.NoError(t, err)
	test, err := data.Open("builtin", "", "test")
	require.NoError(t, err)
	sub := test.Subset([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22})
	ev, err := ck.Evaluator(10)
	require.NoError(t, err)
	defer ev.Close()
	l, err := ck.Loader(sub, 10)
	require.NoError(t, err)
	var done []int
	var weighted float64
	sizes := []float64{10, 10, 3} // the last batch holds 3 images
	m, err := train.EvaluateProgress(ev, l, func(d, total int, loss float64) {
		assert.Equal(t, 3, total)
		done = append(done, d)
		weighted += sizes[d-1] * loss
	})
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3}, done)
	assert.InDelta(t, m.Loss, weighted/23, 1e-12)
}
