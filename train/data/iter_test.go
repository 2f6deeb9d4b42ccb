package data_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/train/data"
)

// TestIterBatchStaysValid checks the double buffering: the batch the caller holds is not
// overwritten while the next one is prepared, and the two buffers alternate.
func TestIterBatchStaysValid(t *testing.T) {
	s := indexed(8, 1, 4, 4, 2)
	l, err := data.NewLoader(s, data.LoaderConfig{Batch: 2, Shuffle: true, Seed: 4, Augment: data.Augment{Pad: 1, Flip: true}})
	require.NoError(t, err)
	it := l.Epoch(0)
	defer it.Close()
	b0, ok := it.Next()
	require.True(t, ok)
	held := snapshot(b0)
	time.Sleep(20 * time.Millisecond) // the producer fills the other buffer meanwhile
	assert.Equal(t, held, snapshot(b0))
	b1, ok := it.Next()
	require.True(t, ok)
	assert.NotSame(t, b0, b1)
	assert.NotEqual(t, held.indices, b1.Indices)
	b2, ok := it.Next()
	require.True(t, ok)
	assert.Same(t, b0, b2, "two buffers, reused")
}

func TestIterClose(t *testing.T) {
	s := indexed(40, 1, 4, 4, 2)
	l, err := data.NewLoader(s, data.LoaderConfig{Batch: 4, Shuffle: true})
	require.NoError(t, err)
	before := runtime.NumGoroutine()
	for _, tc := range []struct {
		name  string
		nexts int
	}{{"before any Next", 0}, {"after one batch", 1}, {"in the middle", 5}, {"at the end", 10}, {"after the end", 11}} {
		t.Run(tc.name, func(t *testing.T) {
			it := l.Epoch(1)
			for i := 0; i < tc.nexts; i++ {
				_, ok := it.Next()
				assert.Equal(t, i < 10, ok, "Next %d", i)
			}
			it.Close()
			it.Close()
			b, ok := it.Next()
			assert.False(t, ok, "Next after Close")
			assert.Nil(t, b)
		})
	}
	// The producers have returned: the goroutine count goes back down.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before)

	// A closed epoch leaves the loader usable, with the same batches.
	assert.Equal(t, epoch(t, l, 1), epoch(t, l, 1))
}

// TestIterSteadyStateAllocations: an epoch allocates a fixed amount (its permutation, channels,
// goroutine), nothing per batch.
func TestIterSteadyStateAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counting")
	}
	s := indexed(400, 1, 4, 4, 2)
	l, err := data.NewLoader(s, data.LoaderConfig{Batch: 5, Shuffle: true, Augment: data.Augment{Pad: 1, Flip: true}})
	require.NoError(t, err)
	run := func() {
		it := l.Epoch(3)
		for _, ok := it.Next(); ok; _, ok = it.Next() {
		}
	}
	run() // the batch buffers are allocated once and then kept by the loader
	allocs := testing.AllocsPerRun(5, run)
	t.Logf("%v allocations per epoch", allocs)
	assert.Less(t, allocs, 20.0, "an epoch of %d batches", l.Batches())
}

// TestIterAbandoned: an Iter dropped without Close stops its goroutine once collected.
func TestIterAbandoned(t *testing.T) {
	s := indexed(40, 1, 4, 4, 2)
	l, err := data.NewLoader(s, data.LoaderConfig{Batch: 4})
	require.NoError(t, err)
	before := runtime.NumGoroutine()
	func() {
		it := l.Epoch(0)
		_, ok := it.Next()
		require.True(t, ok)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before)
}
