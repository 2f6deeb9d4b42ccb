package resnet_test

import (
	"encoding/json"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/blocks"
	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/graph/gradcheck"
	"github.com/resnet-go/resnet/graph/ops"
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
		// the lesson's nets (resnet/testdata/lesson_resnet.py): torchvision's plus a bias per
		// convolution output channel (resnet18: 4,800); biases add no MACs, as PyTorch's hooks count
		{"lesson-resnet18", 1000, 224, 11694312, 1.814},
		{"lesson-resnet34", 1000, 224, 21806184, 3.664},
		{"lesson-resnet50", 1000, 224, 25583592, 4.089},
		{"lesson-resnet101", 1000, 224, 44601832, 7.801},
		{"lesson-resnet152", 1000, 224, 60268520, 11.514},
		{"lesson-plain18", 1000, 224, 11515688 + 4800 - (128 + 256 + 512), 1.7948}, // plain18 + the branch and stem biases
		// pre-activation (He et al. 2016b): the stem's BN moves to the end (bn_final, at the last
		// stage's width) and the first block of a stage normalises its narrower input; with
		// option A the two changes cancel (16·2 + 2·(16+32) = 64·2); a projection has no BN
		{"preresnet20", 10, 32, 269722, 0.0406},
		{"preresnet110", 10, 32, 1727962, 0.2529},
		{"preplain110", 10, 32, 1727962, 0.2529},
		{"preresnet164", 10, 32, 1703258, 0.2476},
		{"preresnet18", 1000, 224, 11689512 - 128 + 1024 - 2*(64+128+256) - 2*(128+256+512), 1.814},
		{"preplain18", 1000, 224, 11687720 - (128*64 + 256*128 + 512*256), 1.7948},
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

// The lesson's nets have the parameter counts and MACs of the lesson's PyTorch code at every depth.
func TestLessonCountsMatchPyTorch(t *testing.T) {
	var golden struct {
		Params map[string]int
		MACs   map[string]int64
	}
	data, err := os.ReadFile("testdata/param_counts_lesson.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &golden))
	require.Len(t, golden.Params, 5)
	for name, params := range golden.Params {
		t.Run(name, func(t *testing.T) {
			sum := summarize(t, spec(t, name, 1000), 224)
			assert.Equal(t, params, sum.Params)
			assert.Equal(t, golden.MACs[name], sum.MACs)
		})
	}
}

// The pre-activation nets have the parameter counts and MACs of the PyTorch reference
// (testdata/gen_golden_preact.py) at every registered depth; preresnet110 and preresnet164 have
// the 1.7M parameters of the paper (He et al. 2016b, Table 3).
func TestPreActCountsMatchPyTorch(t *testing.T) {
	var golden struct {
		Params map[string]int
		MACs   map[string]int64
	}
	data, err := os.ReadFile("testdata/param_counts_preact.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &golden))
	require.Len(t, golden.Params, 11)
	for name, params := range golden.Params {
		t.Run(name, func(t *testing.T) {
			e, err := resnet.Lookup(name)
			require.NoError(t, err)
			sum := summarize(t, spec(t, name, e.Classes), e.Input[1])
			assert.Equal(t, params, sum.Params)
			assert.Equal(t, golden.MACs[name], sum.MACs)
			if name == "preresnet110" || name == "preresnet164" {
				assert.InDelta(t, 1.7e6, float64(sum.Params), 0.05e6, "the paper's 1.7M")
			}
		})
	}
}

// Every parameter and buffer is named and shaped as the PyTorch model's state_dict, in its order:
// torchvision's for resnetD, the lesson's code's (conv biases, shortcut.*) for lesson-resnetD,
// the pre-activation reference's (testdata/gen_golden_preact.py) for preresnetD.
func TestStateDictNames(t *testing.T) {
	for _, name := range []string{"resnet18", "resnet50", "lesson-resnet18", "lesson-resnet50", "preresnet20", "preresnet50"} {
		t.Run(name, func(t *testing.T) {
			var keys [][2]json.RawMessage
			data, err := os.ReadFile("testdata/keys_" + name + ".json")
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(data, &keys))
			p, err := graph.NewParams(tensor.Float32, 1)
			require.NoError(t, err)
			e, err := resnet.Lookup(name)
			require.NoError(t, err)
			_, err = resnet.New(spec(t, name, e.Classes), p, graph.Config{}, 1, 64, 64)
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
		{"lesson-resnet18", resnet.ImageNetStem, []int{2, 2, 2, 2}, false, ""},
		{"lesson-resnet34", resnet.ImageNetStem, []int{3, 4, 6, 3}, false, ""},
		{"lesson-resnet50", resnet.ImageNetStem, []int{3, 4, 6, 3}, false, ""},
		{"lesson-resnet101", resnet.ImageNetStem, []int{3, 4, 23, 3}, false, ""},
		{"lesson-resnet152", resnet.ImageNetStem, []int{3, 8, 36, 3}, false, ""},
		{"lesson-plain50", resnet.ImageNetStem, []int{3, 4, 6, 3}, true, ""},
		{"lesson-resnet20", 0, nil, false, `unknown model "lesson-resnet20"`}, // the lesson has no CIFAR nets
		{"lesson-", 0, nil, false, "unknown model"},
		{"lesson-lesson-resnet18", 0, nil, false, "unknown model"},
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
			lesson := strings.HasPrefix(c.name, "lesson-")
			assert.Equal(t, lesson, s.ConvBias)
			if lesson {
				assert.Equal(t, "shortcut", s.ShortcutName)
			} else {
				assert.Empty(t, s.ShortcutName)
			}
		})
	}
	_, err := resnet.ByName("resnet20", 0, 3)
	assert.ErrorContains(t, err, "classes 0")
	_, err = resnet.ByName("vgg16", 10, 3)
	assert.ErrorContains(t, err, "lesson-resnet18, lesson-resnet34", "the error lists the registry")
	s, err := resnet.ByName(" ResNet18", 10, 3)
	require.NoError(t, err, "names are case-insensitive")
	assert.Equal(t, "resnet18", s.Name)
	s, err = resnet.ByName("Lesson-ResNet50", 10, 3)
	require.NoError(t, err)
	assert.Equal(t, "lesson-resnet50", s.Name)
	_, err = resnet.Lesson(20, 10)
	assert.ErrorContains(t, err, "no depth 20")
	s = resnet.ResNet18(10)
	s.ShortcutName = "short.cut"
	assert.ErrorContains(t, s.Validate(), `shortcut name "short.cut"`)
}

// The pre-activation nets (He et al. 2016b) by name: CIFAR depths 6n+2 have basic blocks and
// option A, 9n+2 bottlenecks and projections (basic below 164 where a depth is both), the
// ImageNet depths torchvision's layout.
func TestPreActByName(t *testing.T) {
	cases := []struct {
		name     string
		stem     resnet.Stem
		kind     blocks.Kind
		blocks   []int
		shortcut blocks.Shortcut
		plain    bool
		err      string
	}{
		{"preresnet20", resnet.CIFARStem, blocks.Basic, []int{3, 3, 3}, blocks.ZeroPad, false, ""},
		{"preresnet56", resnet.CIFARStem, blocks.Basic, []int{9, 9, 9}, blocks.ZeroPad, false, ""}, // also 9·6+2
		{"preresnet110", resnet.CIFARStem, blocks.Basic, []int{18, 18, 18}, blocks.ZeroPad, false, ""},
		{"preresnet164", resnet.CIFARStem, blocks.Bottleneck, []int{18, 18, 18}, blocks.Projection, false, ""}, // also 6·27+2
		{"preresnet1001", resnet.CIFARStem, blocks.Bottleneck, []int{111, 111, 111}, blocks.Projection, false, ""},
		{"preresnet1202", resnet.CIFARStem, blocks.Basic, []int{200, 200, 200}, blocks.ZeroPad, false, ""},
		{"preresnet29", resnet.CIFARStem, blocks.Bottleneck, []int{3, 3, 3}, blocks.Projection, false, ""},
		{"preresnet8", resnet.CIFARStem, blocks.Basic, []int{1, 1, 1}, blocks.ZeroPad, false, ""},
		{"preresnet11", resnet.CIFARStem, blocks.Bottleneck, []int{1, 1, 1}, blocks.Projection, false, ""},
		{"preplain164", resnet.CIFARStem, blocks.Bottleneck, []int{18, 18, 18}, blocks.Projection, true, ""},
		{"preresnet18", resnet.ImageNetStem, blocks.Basic, []int{2, 2, 2, 2}, blocks.Projection, false, ""},
		{"preresnet50", resnet.ImageNetStem, blocks.Bottleneck, []int{3, 4, 6, 3}, blocks.Projection, false, ""},
		{"preresnet152", resnet.ImageNetStem, blocks.Bottleneck, []int{3, 8, 36, 3}, blocks.Projection, false, ""},
		{"preplain34", resnet.ImageNetStem, blocks.Basic, []int{3, 4, 6, 3}, blocks.Projection, true, ""},
		{"preresnet23", 0, 0, nil, 0, false, `unknown model "preresnet23"`},
		{"preresnet2", 0, 0, nil, 0, false, "unknown model"},
		{"preresnet", 0, 0, nil, 0, false, "unknown model"},
		{"lesson-preresnet18", 0, 0, nil, 0, false, "unknown model"},
		{"prelesson-resnet18", 0, 0, nil, 0, false, "unknown model"},
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
			assert.True(t, s.PreAct)
			assert.Equal(t, c.stem, s.Stem)
			assert.Equal(t, c.kind, s.Block)
			assert.Equal(t, c.blocks, s.Blocks)
			assert.Equal(t, c.shortcut, s.Shortcut)
			assert.Equal(t, c.plain, s.Plain)
			assert.False(t, s.ConvBias)
			assert.Equal(t, strings.TrimPrefix(strings.TrimPrefix(c.name, "preresnet"), "preplain"), strconv.Itoa(s.Depth()))
		})
	}
	s, err := resnet.ByName("PreResNet164", 10, 3)
	require.NoError(t, err, "names are case-insensitive")
	assert.Equal(t, "preresnet164", s.Name)
	_, err = resnet.PreActCIFAR(23, 10)
	assert.ErrorContains(t, err, "depth 23 is neither 6n+2")
	_, err = resnet.PreActImageNet(20, 10)
	assert.ErrorContains(t, err, "no depth 20")
	_, err = resnet.ByName("vgg16", 10, 3)
	assert.ErrorContains(t, err, "preresnet18, preresnet34", "the error lists the pre-activation nets")
	assert.ErrorContains(t, err, "preresnet110, preresnet164")
}

// A pre-activation net's layers, as the paper's figure: the stem is its convolution alone, each
// block starts with BN → ReLU and ends with a plain addition, and bn_final → ReLU comes before
// the pooling.
func TestPreActLayers(t *testing.T) {
	for _, c := range []struct {
		name       string
		first, end []string
	}{
		{"preresnet20", []string{"conv1 conv3x3/1", "layer1.0.bn1 bn+relu", "layer1.0.conv1 conv3x3/1", "layer1.0.bn2 bn+relu",
			"layer1.0.conv2 conv3x3/1", "layer1.0 add"},
			[]string{"layer3.2 add", "bn_final bn+relu", "avgpool avgpool", "fc linear"}},
		{"preresnet164", []string{"conv1 conv3x3/1", "layer1.0.bn1 bn+relu", "layer1.0.conv1 conv1x1/1", "layer1.0.bn2 bn+relu",
			"layer1.0.conv2 conv3x3/1", "layer1.0.bn3 bn+relu", "layer1.0.conv3 conv1x1/1", "layer1.0.downsample.0 conv1x1/1", "layer1.0 add"},
			[]string{"layer3.17 add", "bn_final bn+relu", "avgpool avgpool", "fc linear"}},
		{"preresnet18", []string{"conv1 conv7x7/2", "maxpool3x3/2 maxpool3x3/2", "layer1.0.bn1 bn+relu"},
			[]string{"layer4.1 add", "bn_final bn+relu", "avgpool avgpool", "fc linear"}},
		{"preplain20", []string{"conv1 conv3x3/1", "layer1.0.bn1 bn+relu", "layer1.0.conv1 conv3x3/1", "layer1.0.bn2 bn+relu",
			"layer1.0.conv2 conv3x3/1", "layer1.1.bn1 bn+relu"},
			[]string{"layer3.2.conv2 conv3x3/1", "bn_final bn+relu", "avgpool avgpool", "fc linear"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := resnet.Lookup(c.name)
			require.NoError(t, err)
			sum := summarize(t, spec(t, c.name, e.Classes), e.Input[1])
			var ops []string
			for _, l := range sum.Layers {
				ops = append(ops, l.Name+" "+l.Op)
			}
			assert.Equal(t, c.first, ops[:len(c.first)])
			assert.Equal(t, c.end, ops[len(ops)-len(c.end):])
			for _, op := range ops {
				assert.NotContains(t, op, "add+relu", "no ReLU after a pre-activation addition")
			}
		})
	}
}

// The lesson's example: its ResNet18(num_classes=1000) on 1×3×224×224 gives (1, 1000) with
// 11,694,312 parameters, as `trainer summary -model lesson-resnet18 -classes 1000` prints.
func TestLessonResNet18Example(t *testing.T) {
	s, err := resnet.Lesson(18, 1000)
	require.NoError(t, err)
	assert.Equal(t, "lesson-resnet18", s.Name)
	sum := summarize(t, s, 224)
	assert.Equal(t, 11694312, sum.Params)
	last := sum.Layers[len(sum.Layers)-1]
	assert.Equal(t, tensor.Shape{1, 1000}, last.Out)
	var ops []string
	for _, l := range sum.Layers[:3] {
		ops = append(ops, l.Name+" "+l.Op)
	}
	assert.Equal(t, []string{"conv1 conv7x7/2+bias", "bn1 bn+relu", "maxpool3x3/2 maxpool3x3/2"}, ops)
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
		{"cifar preresnet8", []int{2, 3, 8, 8}, func(b *graph.Builder, x *G.Node) *G.Node {
			s, err := resnet.PreActCIFAR(8, 3)
			b.Fail(err)
			return s.Build(b, x)
		}, 6},
		{"cifar preresnet11 (bottlenecks)", []int{2, 3, 8, 8}, func(b *graph.Builder, x *G.Node) *G.Node {
			s, err := resnet.PreActCIFAR(11, 3)
			b.Fail(err)
			return s.Build(b, x)
		}, 4},
		{"tiny preact imagenet", []int{2, 3, 16, 16}, func(b *graph.Builder, x *G.Node) *G.Node {
			s := resnet.Spec{Name: "tiny-preact", Stem: resnet.ImageNetStem, Widths: []int{2, 3}, Blocks: []int{1, 1},
				Block: blocks.Bottleneck, Shortcut: blocks.Projection, PreAct: true, Classes: 3, InChannels: 3}
			return s.Build(b, x)
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

// Float64 gradient checks of the lesson's layout (a bias on every convolution, projections named
// shortcut) on a tiny net of each block kind, in both modes: in training mode each bias is
// followed by a batch-normalisation that cancels it (its gradient is 0), in evaluation mode it
// shifts the output and has a gradient of its own.
func TestLessonGradients(t *testing.T) {
	tiny := func(kind blocks.Kind) resnet.Spec {
		s := resnet.Spec{Name: "tiny-lesson", Stem: resnet.ImageNetStem, Widths: []int{2, 3}, Blocks: []int{1, 1},
			Block: kind, Shortcut: blocks.Projection, Classes: 3, InChannels: 3, ConvBias: true, ShortcutName: "shortcut"}
		if kind == blocks.Basic {
			s.Widths = []int{4, 6}
		}
		return s
	}
	cases := []struct {
		name string
		spec resnet.Spec
		mode graph.Mode
	}{
		{"basic/train", tiny(blocks.Basic), graph.Train},
		{"basic/eval", tiny(blocks.Basic), graph.Eval},
		{"bottleneck/train", tiny(blocks.Bottleneck), graph.Train},
		{"bottleneck/eval", tiny(blocks.Bottleneck), graph.Eval},
		{"bottleneck plain/eval", tiny(blocks.Bottleneck).PlainTwin(), graph.Eval},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := graph.NewParams(tensor.Float64, 3)
			require.NoError(t, err)
			g := G.NewGraph()
			b := graph.NewBuilder(g, p, graph.Config{Mode: c.mode})
			x := b.InputWithGrad("x", 2, 3, 16, 16)
			y := c.spec.Build(b, x)
			require.NoError(t, b.Err())
			require.NoError(t, gradcheck.Fill(x, 9, 1))
			loss, err := gradcheck.WeightedSum(y, 4)
			require.NoError(t, err)
			wrt := G.Nodes{x}
			var biases []string
			for _, bd := range b.Trainable() {
				wrt = append(wrt, bd.Node)
				if n := bd.Param.Name; strings.HasSuffix(n, ".bias") && !strings.Contains(n, "bn") && n != "fc.bias" {
					biases = append(biases, n)
				}
			}
			want := []string{"conv1.bias", "layer1.0.conv1.bias", "layer1.0.conv2.bias"}
			if c.spec.Block == blocks.Bottleneck {
				want = append(want, "layer1.0.conv3.bias")
			}
			if !c.spec.Plain {
				want = append(want, "layer1.0.shortcut.0.bias")
			}
			assert.Equal(t, want, biases[:len(want)], "convolution biases")
			res, err := gradcheck.Check(g, loss, wrt, 1e-6, 6)
			require.NoError(t, err)
			assert.LessOrEqual(t, res.MaxRelErr, 1e-5, "worst: %s (%d checked)", res.Worst, res.Checked)
		})
	}
}

// The memory plan changes no value of a net with convolution biases or of a pre-activation net
// (whose join passes its gradient node on to both inputs): two training steps of a small net
// (every gradient read, the bias gradients included) give the same bits with and without
// ops.PlanMemory, which shares buffers.
func TestPlanMemoryChangesNoValue(t *testing.T) {
	for _, s := range []resnet.Spec{
		{Name: "tiny-lesson", Stem: resnet.ImageNetStem, Widths: []int{4, 8}, Blocks: []int{1, 2},
			Block: blocks.Basic, Shortcut: blocks.Projection, Classes: 3, InChannels: 2, ConvBias: true, ShortcutName: "shortcut"},
		{Name: "tiny-preact", Stem: resnet.ImageNetStem, Widths: []int{2, 4}, Blocks: []int{2, 2},
			Block: blocks.Bottleneck, Shortcut: blocks.Projection, Classes: 3, InChannels: 2, PreAct: true},
		{Name: "tiny-preact-cifar", Stem: resnet.CIFARStem, Widths: []int{4, 8}, Blocks: []int{2, 2},
			Block: blocks.Basic, Shortcut: blocks.ZeroPad, Classes: 3, InChannels: 2, PreAct: true},
	} {
		t.Run(s.Name, func(t *testing.T) { planMemoryChangesNothing(t, s) })
	}
}

func planMemoryChangesNothing(t *testing.T, s resnet.Spec) {
	run := func(plan bool) ([][]float32, ops.MemoryPlan) {
		p, err := graph.NewParams(tensor.Float32, 5)
		require.NoError(t, err)
		m, err := resnet.New(s, p, graph.Config{}, 4, 16, 16)
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
		vm := G.NewTapeMachine(m.Graph)
		defer vm.Close()
		require.NoError(t, G.Let(targets, tensor.New(tensor.WithShape(4, 3),
			tensor.WithBacking([]float32{1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0}))))
		var out [][]float32
		for step := 0; step < 2; step++ {
			in := make([]float32, 4*2*16*16)
			for i := range in {
				in[i] = float32((i*7+step*3)%11) - 5
			}
			require.NoError(t, G.Let(m.Input, tensor.New(tensor.WithShape(4, 2, 16, 16), tensor.WithBacking(in))))
			vm.Reset()
			require.NoError(t, vm.RunAll())
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
	assert.Less(t, mp.PlannedBytes, mp.UnplannedSize, "%v", mp)
}

// Every registered name builds, under its own name, with its family's defaults; Lookup finds
// each, and gives CIFAR defaults to a depth without an entry.
func TestRegistry(t *testing.T) {
	models := resnet.Models()
	assert.Len(t, models, 2*(5+6+5+5+6))
	seen := map[string]bool{}
	for _, e := range models {
		assert.False(t, seen[e.Name], "%s listed twice", e.Name)
		seen[e.Name] = true
		s, err := resnet.ByName(e.Name, e.Classes, e.Input[0])
		require.NoError(t, err, e.Name)
		assert.Equal(t, e.Name, s.Name)
		assert.Equal(t, e.Plain, s.Plain, e.Name)
		assert.Equal(t, strings.HasSuffix(e.Family, "cifar"), s.Stem == resnet.CIFARStem, e.Name)
		assert.Equal(t, e.Family == "lesson", s.ConvBias, e.Name)
		assert.Equal(t, strings.HasPrefix(e.Family, "preact-"), s.PreAct, e.Name)
		assert.GreaterOrEqual(t, e.Input[1], s.MinInput(), e.Name)
		got, err := resnet.Lookup(strings.ToUpper(e.Name))
		require.NoError(t, err)
		assert.Equal(t, e, got)
	}
	e, err := resnet.Lookup("resnet14")
	require.NoError(t, err)
	assert.Equal(t, resnet.Entry{Name: "resnet14", Family: "cifar", Classes: 10, Input: [3]int{3, 32, 32}}, e)
	e, err = resnet.Lookup("preplain1001")
	require.NoError(t, err)
	assert.Equal(t, resnet.Entry{Name: "preplain1001", Family: "preact-cifar", Plain: true, Classes: 10, Input: [3]int{3, 32, 32}}, e)
	_, err = resnet.Lookup("resnet7")
	assert.ErrorContains(t, err, `unknown model "resnet7"`)
}
