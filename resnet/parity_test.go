package resnet_test

import (
	"encoding/json"
	"hash/fnv"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/blocks"
	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/resnet"
)

// golden is one case written by testdata/gen_golden.py with PyTorch 1.13.
type golden struct {
	Mode        string               `json:"mode"` // "train" (or absent) or "eval"
	InputShape  []int                `json:"input_shape"`
	InputPhase  *float64             `json:"input_phase"` // of the input sin(0.37·j + phase); 0.5 when absent
	OutputShape []int                `json:"output_shape"`
	Loss        float64              `json:"loss"`
	Output      []float64            `json:"output"`
	InputGrad   []float64            `json:"input_grad"`
	ParamGrads  map[string][]float64 `json:"param_grads"`
	RunningMean map[string][]float64 `json:"running_mean"`
	RunningVar  map[string][]float64 `json:"running_var"`
}

// fill sets every entry of p by the script's deterministic rule, from its name.
func fill(p *graph.Params) {
	for _, e := range p.All() {
		h := fnv.New32a()
		h.Write([]byte(e.Name))
		phase := float64(h.Sum32()%1000) / 1000 * 2 * math.Pi
		s := e.Value.Shape()
		d := e.Value.Data().([]float32)
		for j := range d {
			base := math.Sin(0.7*float64(j) + phase)
			var v float64
			switch {
			case strings.HasSuffix(e.Name, "running_mean"):
				v = 0.1 * base
			case strings.HasSuffix(e.Name, "running_var"):
				v = 1 + 0.5*math.Abs(base)
			case len(s) == 4: // conv weight
				v = base * 2 / math.Sqrt(float64(s[1]*s[2]*s[3]))
			case len(s) == 2: // linear weight
				v = base / math.Sqrt(float64(s[1]))
			case strings.HasPrefix(e.Name, "fc."): // linear bias
				v = 0.1 * base
			case strings.HasSuffix(e.Name, "weight"): // BatchNorm γ
				v = 1 + 0.1*base
			default: // BatchNorm β, convolution bias
				v = 0.1 * base
			}
			d[j] = float32(v)
		}
	}
}

func sequence(n int, f func(j int) float64) []float32 {
	d := make([]float32, n)
	for j := range d {
		d[j] = float32(f(j))
	}
	return d
}

// TestPyTorchParity runs a BasicBlock, a Bottleneck and the CIFAR ResNet-20 in training mode on
// the script's weights and input, with loss Σ out·cos(0.13 j), and compares the output, the input
// gradient, parameter gradients and the updated running statistics with PyTorch's. Each tensor
// must agree within 1e-4 of its largest magnitude (float32 throughout). The lesson's ResNet18
// (testdata/lesson_resnet.py, 10 classes, convolutions with bias, shortcut.* names) runs in
// evaluation mode, where the biases reach the output. The pre-activation cases
// (testdata/gen_golden_preact.py: a basic block and a bottleneck with projections, preresnet20,
// and preresnet18 on one input channel) run in training mode.
func TestPyTorchParity(t *testing.T) {
	cases := []struct {
		file  string
		build func(b *graph.Builder, x *G.Node) *G.Node
	}{
		{"basic_block", func(b *graph.Builder, x *G.Node) *G.Node {
			return blocks.BasicBlock(b, x, 32, 2, blocks.Projection)
		}},
		{"bottleneck", func(b *graph.Builder, x *G.Node) *G.Node {
			return blocks.BottleneckBlock(b, x, 16, 2, blocks.Projection)
		}},
		{"resnet20", func(b *graph.Builder, x *G.Node) *G.Node {
			s, err := resnet.CIFAR(20, 10)
			b.Fail(err)
			return s.Build(b, x)
		}},
		{"lesson_resnet18", func(b *graph.Builder, x *G.Node) *G.Node {
			s, err := resnet.Lesson(18, 10)
			b.Fail(err)
			return s.Build(b, x)
		}},
		// the pre-activation nets (testdata/gen_golden_preact.py)
		{"preact_basic_block", func(b *graph.Builder, x *G.Node) *G.Node {
			return blocks.PreActBasicBlock(b, x, 8, 2, blocks.Projection)
		}},
		{"preact_bottleneck", func(b *graph.Builder, x *G.Node) *G.Node {
			return blocks.PreActBottleneckBlock(b, x, 4, 2, blocks.Projection)
		}},
		{"preresnet20", func(b *graph.Builder, x *G.Node) *G.Node {
			s, err := resnet.PreActCIFAR(20, 10)
			b.Fail(err)
			return s.Build(b, x)
		}},
		{"preresnet18", func(b *graph.Builder, x *G.Node) *G.Node {
			s, err := resnet.PreActImageNet(18, 10)
			b.Fail(err)
			s.InChannels = 1
			return s.Build(b, x)
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			var want golden
			data, err := os.ReadFile("testdata/" + c.file + ".json")
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(data, &want))

			p, err := graph.NewParams(tensor.Float32, 1)
			require.NoError(t, err)
			g := G.NewGraph()
			mode := graph.Train
			if want.Mode == "eval" {
				mode = graph.Eval
			}
			b := graph.NewBuilder(g, p, graph.Config{Mode: mode})
			x := b.InputWithGrad("x", want.InputShape...)
			y := c.build(b, x)
			require.NoError(t, b.Err())
			require.Equal(t, tensor.Shape(want.OutputShape), y.Shape())
			fill(p)
			n := x.Shape().TotalSize()
			phase := 0.5
			if want.InputPhase != nil {
				phase = *want.InputPhase
			}
			require.NoError(t, G.Let(x, tensor.New(tensor.WithShape(want.InputShape...),
				tensor.WithBacking(sequence(n, func(j int) float64 { return math.Sin(0.37*float64(j) + phase) })))))

			m := y.Shape().TotalSize()
			flat := G.Must(G.Reshape(y, tensor.Shape{m}))
			w := G.NewVector(g, tensor.Float32, G.WithShape(m), G.WithName("w"), G.WithValue(tensor.New(tensor.WithShape(m),
				tensor.WithBacking(sequence(m, func(j int) float64 { return math.Cos(0.13 * float64(j)) })))))
			loss := G.Must(G.Sum(G.Must(G.HadamardProd(flat, w))))

			wrt := G.Nodes{x}
			names := []string{"input"}
			for _, bd := range b.Trainable() {
				if _, ok := want.ParamGrads[bd.Param.Name]; ok {
					wrt = append(wrt, bd.Node)
					names = append(names, bd.Param.Name)
				}
			}
			require.Len(t, wrt, len(want.ParamGrads)+1, "every golden parameter gradient has a parameter")
			grads, err := G.Grad(loss, wrt...)
			require.NoError(t, err)
			gv := make([]G.Value, len(grads))
			for i := range grads {
				G.Read(grads[i], &gv[i])
			}
			var out, lv G.Value
			G.Read(y, &out)
			G.Read(loss, &lv)
			vm := G.NewTapeMachine(g)
			defer vm.Close()
			require.NoError(t, vm.RunAll())

			assert.InDelta(t, want.Loss, float64(lv.Data().(float32)), 1e-4*math.Max(1, math.Abs(want.Loss)))
			agree(t, "output", want.Output, out.Data().([]float32))
			agree(t, "input gradient", want.InputGrad, gv[0].Data().([]float32))
			for i := 1; i < len(wrt); i++ {
				agree(t, names[i]+" gradient", want.ParamGrads[names[i]], gv[i].Data().([]float32))
			}
			for name, v := range want.RunningMean {
				e, ok := p.Get(name)
				require.True(t, ok, name)
				agree(t, name, v, e.Value.Data().([]float32))
			}
			for name, v := range want.RunningVar {
				e, ok := p.Get(name)
				require.True(t, ok, name)
				agree(t, name, v, e.Value.Data().([]float32))
			}
		})
	}
}

// agree asserts max|got − want| ≤ 1e-4 · max(1, max|want|).
func agree(t *testing.T, what string, want []float64, got []float32) {
	t.Helper()
	require.Len(t, got, len(want), what)
	var scale, worst float64 = 1, 0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	for i := range want {
		worst = math.Max(worst, math.Abs(float64(got[i])-want[i]))
	}
	t.Logf("%s: max difference %.3g (scale %.3g)", what, worst, scale)
	assert.LessOrEqual(t, worst, 1e-4*scale, "%s: max difference %.3g (scale %.3g)", what, worst, scale)
}
