package ops

import (
	"fmt"
	"sort"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MemoryPlan reports what PlanMemory did.
type MemoryPlan struct {
	Outputs       int   // op outputs placed in shared buffers
	Buffers       int   // buffers they share
	PlannedBytes  int64 // bytes of those buffers
	UnplannedSize int64 // bytes the outputs would take with one buffer each
}

func (p MemoryPlan) String() string {
	return fmt.Sprintf("%d outputs in %d buffers: %.1f MB instead of %.1f MB", p.Outputs, p.Buffers,
		float64(p.PlannedBytes)/1e6, float64(p.UnplannedSize)/1e6)
}

// owner is implemented by the operators of this package: each owns the tensor it outputs.
type owner interface{ outBuffer() *outBuf }

func (op *convOp) outBuffer() *outBuf         { return &op.out }
func (op *convGradOp) outBuffer() *outBuf     { return &op.out }
func (op *convBiasGradOp) outBuffer() *outBuf { return &op.out }
func (op *bnOp) outBuffer() *outBuf           { return &op.out }
func (op *bnGradOp) outBuffer() *outBuf       { return &op.out }
func (op *bnParamGradOp) outBuffer() *outBuf  { return &op.out }
func (op *maxPoolOp) outBuffer() *outBuf      { return &op.out }
func (op *maxPoolGradOp) outBuffer() *outBuf  { return &op.out }
func (op *gapOp) outBuffer() *outBuf          { return &op.out }
func (op *reluOp) outBuffer() *outBuf         { return &op.out }
func (op *addOp) outBuffer() *outBuf          { return &op.out }
func (op *matMulTOp) outBuffer() *outBuf      { return &op.buf }
func (op *reluGradOp) outBuffer() *outBuf     { return &op.out }
func (op *shortcutOp) outBuffer() *outBuf     { return &op.out }
func (op *sceGradOp) outBuffer() *outBuf      { return &op.out }

// PlanMemory lets the outputs of this package's operators in g share memory when their
// lifetimes do not overlap, as a compiler allocates registers. Without it every operator keeps
// its own output between runs, so a graph holds every activation and every gradient at once.
//
// Call it on a complete graph (gradients and G.Read nodes included), before or between runs. The
// TapeMachine runs nodes in reverse G.Sort order; an output is live from its node to its last
// reader. A reader that is not one of these operators (a Gorgonia op, a reshape, a read) may
// return its input's memory, so its own readers extend the lifetime, transitively. An output that
// nothing in the graph reads stays live to the end: after a run, read values through G.Read (or
// values nothing else reads), never through an intermediate node.
func PlanMemory(g *G.ExprGraph) (MemoryPlan, error) {
	order, err := G.Sort(g)
	if err != nil {
		return MemoryPlan{}, fmt.Errorf("ops.PlanMemory: %w", err)
	}
	n := len(order)
	pos := make(map[*G.Node]int, n)
	for i, node := range order {
		pos[node] = n - 1 - i // execution position
	}

	// end returns the last execution position at which node's value (or memory it shares) is read.
	memo := map[*G.Node]int{}
	var end func(node *G.Node) int
	end = func(node *G.Node) int {
		if e, ok := memo[node]; ok {
			return e
		}
		e := pos[node]
		readers := g.To(node.ID())
		if readers.Len() == 0 {
			e = n // nothing in the graph reads it: the caller may, after the run
		}
		for readers.Next() {
			r := readers.Node().(*G.Node)
			re := pos[r]
			if _, ours := r.Op().(owner); !ours {
				re = end(r)
			}
			e = max(e, re)
		}
		memo[node] = e
		return e
	}

	type slot struct {
		dt    tensor.Dtype
		size  int // elements
		free  int // first position at which it may be reused
		users []*outBuf
		shape []tensor.Shape
	}
	var slots []*slot
	var plan MemoryPlan
	byPos := make([]*G.Node, n)
	for node, p := range pos {
		byPos[p] = node
	}
	for p, node := range byPos {
		o, ok := node.Op().(owner)
		if !ok {
			continue
		}
		dt, shape := node.Dtype(), node.Shape().Clone()
		size := shape.TotalSize()
		// best fit among the free slots of the same dtype; otherwise a new slot
		var best *slot
		for _, s := range slots {
			if s.dt == dt && s.free <= p && s.size >= size && (best == nil || s.size < best.size) {
				best = s
			}
		}
		if best == nil {
			best = &slot{dt: dt, size: size}
			slots = append(slots, best)
		}
		best.free = end(node) + 1
		best.users = append(best.users, o.outBuffer())
		best.shape = append(best.shape, shape)
		plan.Outputs++
		plan.UnplannedSize += int64(size * int(dt.Size()))
	}
	sort.SliceStable(slots, func(i, j int) bool { return slots[i].size > slots[j].size })
	for _, s := range slots {
		backing := tensor.New(tensor.Of(s.dt), tensor.WithShape(s.size))
		for i, ob := range s.users {
			ob.t = backingView(backing, s.dt, s.shape[i])
		}
		plan.Buffers++
		plan.PlannedBytes += int64(s.size * int(s.dt.Size()))
	}
	return plan, nil
}

// backingView is a tensor of the given shape over the first elements of backing.
func backingView(backing *tensor.Dense, dt tensor.Dtype, shape tensor.Shape) *tensor.Dense {
	n := shape.TotalSize()
	if dt == tensor.Float32 {
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(backing.Float32s()[:n:n]))
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(backing.Float64s()[:n:n]))
}
