package data

import (
	"runtime"
	"sync"
)

// Iter walks the batches of one epoch. A background goroutine prepares the next batch while the
// caller trains on the current one, in two buffers that are reused (and handed on to the next
// epoch), so the steady state allocates nothing. Next and Close are for one goroutine. Call Close
// (e.g. deferred) when stopping before Next has returned false; an Iter dropped without it stops
// its goroutine only when the garbage collector finds it unreachable.
type Iter struct {
	p       *pipe
	cur     *Batch // the batch the caller holds
	closed  bool
	cleanup runtime.Cleanup
}

// pipe is what the producer goroutine shares with its Iter. It does not point back to the Iter,
// so that an abandoned Iter can be collected and its cleanup stop the goroutine.
type pipe struct {
	l     *Loader
	epoch int
	order []int
	bufs  [2]*Batch
	free  chan *Batch // buffers the producer may fill
	ready chan *Batch // filled buffers, closed after the last batch
	quit  chan struct{}
	stop  sync.Once     // closes quit
	done  chan struct{} // closed when the producer has returned
}

// Epoch starts iterating over the batches of epoch (counted from 0; any value is valid).
func (l *Loader) Epoch(epoch int) *Iter {
	p := &pipe{
		l: l, epoch: epoch, order: l.order(epoch), bufs: l.buffers(),
		free: make(chan *Batch, 2), ready: make(chan *Batch, 1),
		quit: make(chan struct{}), done: make(chan struct{}),
	}
	p.free <- p.bufs[0]
	p.free <- p.bufs[1]
	go p.produce()
	it := &Iter{p: p}
	it.cleanup = runtime.AddCleanup(it, (*pipe).halt, p)
	return it
}

// produce fills the epoch's batches in order, one ahead of the caller.
func (p *pipe) produce() {
	defer close(p.done)
	defer close(p.ready)
	for b := 0; b < p.l.Batches(); b++ {
		var buf *Batch
		select {
		case buf = <-p.free:
		case <-p.quit:
			return
		}
		p.l.fill(buf, p.order, p.epoch, b)
		select {
		case p.ready <- buf:
		case <-p.quit:
			return
		}
	}
}

// halt stops the producer and waits for it.
func (p *pipe) halt() {
	p.stop.Do(func() { close(p.quit) })
	<-p.done
}

// Next returns the next batch, or false after the last one. The batch stays valid until the
// following call of Next (or Close): then its buffer is filled again.
func (it *Iter) Next() (*Batch, bool) {
	if it.closed {
		return nil, false
	}
	if it.cur != nil {
		it.p.free <- it.cur // never blocks: free holds both buffers at most
		it.cur = nil
	}
	b, ok := <-it.p.ready
	if !ok {
		it.Close()
		return nil, false
	}
	it.cur = b
	return b, true
}

// Close stops the background goroutine, waits for it, and keeps the buffers for the loader's
// next epoch. It is safe to call twice and after the end.
func (it *Iter) Close() {
	if it.closed {
		return
	}
	it.closed = true
	it.cleanup.Stop()
	it.p.halt()
	it.cur = nil
	select {
	case it.p.l.spare <- it.p.bufs:
	default: // another finished Iter already left its buffers
	}
}
