package ops

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// workerSetting is the explicit worker count set by SetWorkers; 0 means runtime.GOMAXPROCS(0).
var workerSetting atomic.Int64

// SetWorkers sets the number of goroutines the operators split their work across.
// n <= 0 restores the default, runtime.GOMAXPROCS(0) read at each run. It is safe to call at
// any time; a run that has already started keeps the count it read when it started.
func SetWorkers(n int) {
	if n < 0 {
		n = 0
	}
	workerSetting.Store(int64(n))
}

// Workers returns the number of goroutines the operators split their work across: the value set
// by SetWorkers, or runtime.GOMAXPROCS(0) when none (or n <= 0) was set.
func Workers() int {
	if n := workerSetting.Load(); n > 0 {
		return int(n)
	}
	return runtime.GOMAXPROCS(0)
}

// workersFor returns how many workers to use for n independent items: min(Workers(), n), at least 1.
func workersFor(n int) int {
	p := Workers()
	if p > n {
		p = n
	}
	if p < 1 {
		p = 1
	}
	return p
}

// parallel splits [0,n) into p contiguous ranges and runs fn(worker, lo, hi) on each, worker 0 on
// the calling goroutine. It returns when all are done.
func parallel(n, p int, fn func(worker, lo, hi int)) {
	if p > n {
		p = n
	}
	if p <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	var wg sync.WaitGroup
	wg.Add(p - 1)
	for i := 1; i < p; i++ {
		go func(i int) {
			defer wg.Done()
			fn(i, i*n/p, (i+1)*n/p)
		}(i)
	}
	fn(0, 0, n/p)
	wg.Wait()
}

// parallelMin is parallel with at least minPer items per worker, so that tiny jobs are not split.
func parallelMin(n, minPer int, fn func(worker, lo, hi int)) {
	p := Workers()
	if minPer > 0 && n/minPer < p {
		p = n / minPer
	}
	if p < 1 {
		p = 1
	}
	parallel(n, p, fn)
}

// parallelEach runs fn(worker, i) for every i in [0,n) on p workers (worker 0 on the calling
// goroutine) that take the next index from a shared counter, so that a worker slowed down by
// other load on the machine takes fewer items. It returns when all are done.
func parallelEach(n, p int, fn func(worker, i int)) {
	if p > n {
		p = n
	}
	if p <= 1 {
		for i := 0; i < n; i++ {
			fn(0, i)
		}
		return
	}
	var next atomic.Int64
	work := func(w int) {
		for {
			i := int(next.Add(1)) - 1
			if i >= n {
				return
			}
			fn(w, i)
		}
	}
	var wg sync.WaitGroup
	wg.Add(p - 1)
	for w := 1; w < p; w++ {
		go func(w int) {
			defer wg.Done()
			work(w)
		}(w)
	}
	work(0)
	wg.Wait()
}
