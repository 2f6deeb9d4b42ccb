package train_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/graph/ops"
	"github.com/resnet-go/resnet/resnet"
)

// Sharing memory between op outputs changes no value: a training graph (loss, logits and every
// gradient read out) gives bit-identical results over two steps with and without the plan, and
// the plan needs less memory. The gradients are read both through G.Read and from the dual
// values the machine accumulates them into (what the Trainer uses).
func TestPlanMemoryKeepsResults(t *testing.T) {
	for _, name := range []string{"resnet8", "plain8"} {
		t.Run(name, func(t *testing.T) {
			run := func(plan bool) ([][]float32, ops.MemoryPlan) {
				s, err := resnet.ByName(name, 3, 2)
				require.NoError(t, err)
				p, err := graph.NewParams(tensor.Float32, 5)
				require.NoError(t, err)
				m, err := resnet.New(s, p, graph.Config{}, 4, 8, 8)
				require.NoError(t, err)
				b := m.Builder
				targets := b.Input("targets", 4, 3)
				loss := b.SoftmaxCrossEntropy(m.Logits, targets)
				require.NoError(t, b.Err())
				var wrt G.Nodes
				for _, bd := range b.Trainable() {
					wrt = append(wrt, bd.Node)
				}
				grads, err := G.Grad(loss, wrt...)
				require.NoError(t, err)
				vals := make([]G.Value, len(grads)+2)
				G.Read(loss, &vals[0])
				G.Read(m.Logits, &vals[1])
				for i, g := range grads {
					G.Read(g, &vals[i+2])
				}
				var mp ops.MemoryPlan
				if plan {
					mp, err = ops.PlanMemory(m.Graph)
					require.NoError(t, err)
				}
				// as the Trainer does: gradients also accumulate into the parameters' dual values
				vm := G.NewTapeMachine(m.Graph, G.BindDualValues(wrt...))
				defer vm.Close()
				require.NoError(t, G.Let(targets, tensor.New(tensor.WithShape(4, 3),
					tensor.WithBacking([]float32{1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0}))))
				var out [][]float32
				for step := 0; step < 2; step++ {
					in := make([]float32, 4*2*8*8)
					for i := range in {
						in[i] = float32((i*7+step*3)%11) - 5
					}
					require.NoError(t, G.Let(m.Input, tensor.New(tensor.WithShape(4, 2, 8, 8), tensor.WithBacking(in))))
					vm.Reset()
					require.NoError(t, vm.RunAll())
					for _, n := range wrt {
						g, err := n.Grad()
						require.NoError(t, err)
						out = append(out, append([]float32(nil), g.Data().([]float32)...))
						g.(tensor.Tensor).Zero()
					}
					for _, v := range vals {
						switch d := v.Data().(type) {
						case float32:
							out = append(out, []float32{d})
						case []float32:
							out = append(out, append([]float32(nil), d...))
						}
					}
				}
				return out, mp
			}
			want, _ := run(false)
			got, mp := run(true)
			require.Equal(t, len(want), len(got))
			for i := range want {
				assert.Equal(t, want[i], got[i], "value %d", i)
			}
			// a training graph keeps its activations for the backward pass; its gradients share
			assert.Less(t, mp.PlannedBytes, mp.UnplannedSize, "%v", mp)
		})
	}
}
