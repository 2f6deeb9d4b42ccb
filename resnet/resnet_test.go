package resnet_test

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/graph/gradcheck"
	"github.com/resnet-go/resnet/resnet"
)

func newStore(t *testing.T) *graph.Params {
	t.Helper()
	p, err := graph.NewParams(tensor.Float32, 1)
	require.NoError(t, err)
	return p
}

func spec(t *testing.T, name string, classes int) resnet.Spec {
	t.Helper()
	s, err := resnet.ByName(name, classes, 3)
	require.NoError(t, err)
	return s
}

func summarize(t *testing.T, s resnet.Spec, size int) resnet.Summary {
	t.Helper()
	p, err := graph.NewParams(tensor.Float32, 1)
	require.NoError(t, err)
	sum, err := resnet.Summarize(s, p, size, size)
	require.NoError(t, err)
	require.Equal(t, sum.Params, p.Count(), "the layer table and the store disagree")
	return sum
}

// Parameter counts are torchvision's (1000 classes) and the CIFAR nets' of the paper (10 classes,
// option A); MACs per image are within 0.5% of the published figures.
func TestParamsAndMACs(t *testing.T) {
	cases := []struct {
		name    string
		classes int
		size    int
		params  int
		gmacs   float64
	}{
		{"resnet18", 1000, 224, 11689512, 1.814},
		{"resnet34", 1000, 224, 21797672, 3.664},
		{"resnet50", 1000, 224, 25557032, 4.089},
		{"resnet101", 1000, 224, 44549160, 7.801},
		{"resnet152", 1000, 224, 60192808, 11.514},
		{"resnet20", 10, 32, 269722, 0.0406},
		{"resnet32", 10, 32, 464154, 0.0689},
		{"resnet44", 10, 32, 658586, 0.0972},
		{"resnet56", 10, 32, 853018, 0.1255},
		{"resnet110", 10, 32, 1727962, 0.2529},
		{"plain20", 10, 32, 269722, 0.0406},
		{"plain56", 10, 32, 853018, 0.1255},
		{"plain110", 10, 32, 1727962, 0.2529},
		{"plain18", 1000, 224, 11515688, 1.7948}, // option B projections have weights: the twin lacks them
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sum := summarize(t, spec(t, c.name, c.classes), c.size)
			assert.Equal(t, c.params, sum.Params)
			assert.InEpsilon(t, c.gmacs*1e9, float64(sum.MACs), 0.005)
		})
	}
}

// The MACs agree exactly with PyTorch's hooks on the ImageNet nets.
func TestMACsMatchTorchvision(t *testing.T) {
	var golden struct {
		Params map[string]int
		MACs   map[string]int64
	}
	data, err := os.ReadFile("testdata/param_counts.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &golden))
	for _, name := range []string{"resnet18", "resnet50"} {
		sum := summarize(t, spec(t, name, 1000), 224)
		assert.Equal(t, golden.Params[name], sum.Params, name)
		assert.Equal(t, golden.MACs[name], sum.MACs, name)
	}
}

// Every parameter and buffer is named and shaped as torchvision's state_dict, in its order.
func TestStateDictNames(t *testing.T) {
	for _, name := range []string{"resnet18", "resnet50"} {
		t.Run(name, func(t *testing.T) {
			var keys [][2]json.RawMessage
			data, err := os.ReadFile("testdata/keys_" + name + ".json")
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(data, &keys))
			p, err := graph.NewParams(tensor.Float32, 1)
			require.NoError(t, err)
			_, err = resnet.New(spec(t, name, 1000), p, graph.Config{}, 1, 64, 64)
			require.NoError(t, err)
			var want, got []string
			for _, k := range keys {
				var n string
				var s []int
				require.NoError(t, json.Unmarshal(k[0], &n))
				require.NoError(t, json.Unmarshal(k[1], &s))
				want = append(want, n+shapeString(s))
			}
			for _, e := range p.All() {
				got = append(got, e.Name+shapeString(e.Value.Shape()))
			}
			assert.Equal(t, want, got)
		})
	}
}

func shapeString(s []int) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// The example this project grew from: ResNet18(num_classes=1000) on 1×3×224×224 gives (1, 1000).
func TestResNet18Example(t *testing.T) {
	p, err := graph.NewParams(tensor.Float32, 1)
	require.NoError(t, err)
	m, err := resnet.New(resnet.ResNet18(1000), p, graph.Config{Mode: graph.Eval}, 1, 224, 224)
	require.NoError(t, err)
	x := make([]float32, 3*224*224)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	require.NoError(t, G.Let(m.Input, tensor.New(tensor.WithShape(1, 3, 224, 224), tensor.WithBacking(x))))
	var out G.Value
	G.Read(m.Logits, &out)
	vm := G.NewTapeMachine(m.Graph)
	defer vm.Close()
	require.NoError(t, vm.RunAll())
	assert.Equal(t, tensor.Shape{1, 1000}, out.Shape())
	for _, v := range out.Data().([]float32) {
		require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0))
	}
}

func TestByName(t *testing.T) {
	cases := []struct {
		name   string
		stem   resnet.Stem
		blocks []int
		plain  bool
		err    string
	}{
		{"resnet18", resnet.ImageNetStem, []int{2, 2, 2, 2}, false, ""},
		{"resnet50", resnet.ImageNetStem, []int{3, 4, 6, 3}, false, ""},
		{"resnet152", resnet.ImageNetStem, []int{3, 8, 36, 3}, false, ""},
		{"resnet20", resnet.CIFARStem, []int{3, 3, 3}, false, ""},
		{"resnet110", resnet.CIFARStem, []int{18, 18, 18}, false, ""},
		{"resnet8", resnet.CIFARStem, []int{1, 1, 1}, false, ""},
		{"plain34", resnet.ImageNetStem, []int{3, 4, 6, 3}, true, ""},
		{"plain56", resnet.CIFARStem, []int{9, 9, 9}, true, ""},
		{"resnet7", 0, nil, false, `unknown model "resnet7"`},
		{"resnet", 0, nil, false, "unknown model"},
		{"vgg16", 0, nil, false, "unknown model"},
		{"resnet-20", 0, nil, false, "unknown model"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := resnet.ByName(c.name, 10, 3)
			if c.err != "" {
				assert.ErrorContains(t, err, c.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.name, s.Name)
			assert.Equal(t, c.stem, s.Stem)
			assert.Equal(t, c.blocks, s.Blocks)
			assert.Equal(t, c.plain, s.Plain)
		})
	}
	_, err := resnet.ByName("resnet20", 0, 3)
	assert.ErrorContains(t, err, "classes 0")
}

func TestInputChannelsAndSizes(t *testing.T) {
	p, err := graph.NewParams(tensor.Float32, 1)
	require.NoError(t, err)
	s, err := resnet.ByName("resnet20", 10, 1)
	require.NoError(t, err)
	m, err := resnet.New(s, p, graph.Config{}, 4, 28, 28) // Fashion-MNIST-like
	require.NoError(t, err)
	assert.Equal(t, tensor.Shape{4, 10}, m.Logits.Shape())
	e, _ := p.Get("conv1.weight")
	assert.Equal(t, tensor.Shape{16, 1, 3, 3}, e.Value.Shape())

	_, err = resnet.New(resnet.ResNet18(10), p, graph.Config{}, 1, 31, 31)
	assert.ErrorContains(t, err, "too small")
	// batch 1 at 32×32 leaves 1×1 maps: training-mode BN would see one value per channel
	_, err = resnet.New(resnet.ResNet18(10), newStore(t), graph.Config{}, 1, 32, 32)
	assert.ErrorContains(t, err, "BatchNorm layer4.0.bn1 sees one value per channel")
	_, err = resnet.New(resnet.ResNet18(10), newStore(t), graph.Config{Mode: graph.Eval}, 1, 32, 32)
	assert.NoError(t, err, "evaluation uses running statistics")
	// p now holds resnet20's conv1 for one channel: a net that wants another shape is refused.
	_, err = resnet.New(resnet.ResNet18(10), p, graph.Config{}, 1, 32, 32)
	assert.ErrorContains(t, err, `"conv1.weight" exists with shape (16, 1, 3, 3)`)
}

// Gradient checks in float64 for the pieces a block test does not cover: the ImageNet stem with
// its max pool, the head, and a whole small CIFAR net.
func TestNetGradients(t *testing.T) {
	cases := []struct {
		name    string
		in      []int
		build   func(b *graph.Builder, x *G.Node) *G.Node
		perNode int
	}{
		{"imagenet stem", []int{2, 3, 12, 12}, func(b *graph.Builder, x *G.Node) *G.Node {
			out := b.Conv2d("conv1", x, 4, 7, 2, 3)
			out = b.BatchNormReLU("bn1", out)
			return b.MaxPool2d(out, 3, 2, 1)
		}, 20},
		{"head", []int{3, 5, 3, 3}, func(b *graph.Builder, x *G.Node) *G.Node {
			logits := b.Linear("fc", b.GlobalAvgPool(x), 4)
			t := b.Input("targets", 3, 4)
			onehot := []float64{1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0}
			if err := G.Let(t, tensor.New(tensor.WithShape(3, 4), tensor.WithBacking(onehot))); err != nil {
				b.Fail(err)
			}
			return b.SoftmaxCrossEntropy(logits, t)
		}, 0},
		{"cifar resnet8", []int{2, 3, 8, 8}, func(b *graph.Builder, x *G.Node) *G.Node {
			s, err := resnet.CIFAR(8, 3)
			b.Fail(err)
			return s.Build(b, x)
		}, 6},
		{"cifar plain8", []int{2, 3, 8, 8}, func(b *graph.Builder, x *G.Node) *G.Node {
			s, err := resnet.CIFAR(8, 3)
			b.Fail(err)
			return s.PlainTwin().Build(b, x)
		}, 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := graph.NewParams(tensor.Float64, 3)
			require.NoError(t, err)
			g := G.NewGraph()
			b := graph.NewBuilder(g, p, graph.Config{})
			x := b.InputWithGrad("x", c.in...)
			y := c.build(b, x)
			require.NoError(t, b.Err())
			require.NoError(t, gradcheck.Fill(x, 9, 1))
			loss := y
			if y.Shape().TotalSize() > 1 {
				loss, err = gradcheck.WeightedSum(y, 4)
				require.NoError(t, err)
			}
			wrt := G.Nodes{x}
			for _, bd := range b.Trainable() {
				wrt = append(wrt, bd.Node)
			}
			res, err := gradcheck.Check(g, loss, wrt, 1e-6, c.perNode)
			require.NoError(t, err)
			assert.LessOrEqual(t, res.MaxRelErr, 1e-5, "worst: %s (%d checked)", res.Worst, res.Checked)
		})
	}
}
