package resnet

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/resnet-go/resnet/blocks"
	"github.com/resnet-go/resnet/graph"
)

// Build adds the network to b, applied to x of shape (N, InChannels, H, W), and returns the
// logits (N, Classes). Errors are reported through b.Err.
func (s Spec) Build(b *graph.Builder, x *G.Node) *G.Node {
	if err := s.Validate(); err != nil {
		b.Fail(err)
		return nil
	}
	b.AssertDims(x, -1, s.InChannels, -1, -1)
	out := s.stem(b, x)
	for i, n := range s.Blocks {
		stage := b.Scopef("layer%d", i+1)
		for j := 0; j < n; j++ {
			stride := 1
			if i > 0 && j == 0 {
				stride = 2 // every stage after the first halves the feature map in its first block
			}
			out = blocks.Build(stage.Scopef("%d", j), out, blocks.Config{Kind: s.Block, Planes: s.Widths[i],
				Stride: stride, Shortcut: s.Shortcut, Plain: s.Plain, PreAct: s.PreAct, ConvBias: s.ConvBias,
				ShortcutName: s.ShortcutName})
		}
	}
	if s.PreAct {
		// The last block's sum is not activated: normalise it once, as the paper's code does.
		out = b.BatchNormReLU(FinalBN, out)
	}
	out = b.GlobalAvgPool(out)
	return b.Linear("fc", out, s.Classes)
}

// FinalBN is the name of the BatchNorm a pre-activation net (Spec.PreAct) applies, with a ReLU,
// after its last stage: bn_final.weight, bn_final.bias, bn_final.running_mean, …
const FinalBN = "bn_final"

// stem is conv → BN → ReLU (→ max pool). A pre-activation net leaves out the BN → ReLU: its
// first block starts with its own.
func (s Spec) stem(b *graph.Builder, x *G.Node) *G.Node {
	conv := b.Conv2d
	if s.ConvBias {
		conv = b.Conv2dBias
	}
	act := func(out *G.Node) *G.Node {
		if s.PreAct {
			return out
		}
		return b.BatchNormReLU("bn1", out)
	}
	if s.Stem == CIFARStem {
		return act(conv("conv1", x, s.StemWidth(), 3, 1, 1))
	}
	out := act(conv("conv1", x, s.StemWidth(), 7, 2, 3))
	return b.MaxPool2d(out, 3, 2, 1)
}

// MinInput is the smallest input height and width the net accepts: every stride-2 layer must
// leave at least one pixel.
func (s Spec) MinInput() int {
	halvings := len(s.Blocks) - 1 // the first block of every later stage has stride 2
	if s.Stem == ImageNetStem {
		halvings += 2 // the stride-2 conv and the max pool
	}
	return 1 << halvings
}

// Model is a Spec built into its own graph over a parameter store.
type Model struct {
	Spec    Spec
	Graph   *G.ExprGraph
	Input   *G.Node // (N, C, H, W)
	Logits  *G.Node // (N, Classes)
	Builder *graph.Builder
}

// New builds s for inputs of shape (batch, InChannels, height, width) in a new graph, taking its
// parameters from p (and creating those p lacks).
func New(s Spec, p *graph.Params, cfg graph.Config, batch, height, width int) (*Model, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if batch < 1 {
		return nil, fmt.Errorf("resnet: %s: batch %d must be at least 1", s.Name, batch)
	}
	if m := s.MinInput(); height < m || width < m {
		return nil, fmt.Errorf("resnet: %s: input %d×%d is too small (want at least %d×%d)", s.Name, height, width, m, m)
	}
	g := G.NewGraph()
	b := graph.NewBuilder(g, p, cfg)
	x := b.Input("input", batch, s.InChannels, height, width)
	logits := s.Build(b, x)
	if err := b.Err(); err != nil {
		return nil, fmt.Errorf("resnet: %s: %w", s.Name, err)
	}
	return &Model{Spec: s, Graph: g, Input: x, Logits: logits, Builder: b}, nil
}

// Summary is a net's layer table with its totals.
type Summary struct {
	Layers []graph.Layer
	Params int   // trainable scalars
	MACs   int64 // multiply-accumulates per example
}

// Summarize builds s in a scratch graph for one input of height×width and tabulates it.
func Summarize(s Spec, p *graph.Params, height, width int) (Summary, error) {
	m, err := New(s, p, graph.Config{Mode: graph.Eval}, 1, height, width)
	if err != nil {
		return Summary{}, err
	}
	return Tabulate(m.Builder.Layers()), nil
}

// Tabulate totals a layer table.
func Tabulate(layers []graph.Layer) Summary {
	sum := Summary{Layers: layers}
	for _, l := range layers {
		sum.Params += l.Params
		sum.MACs += l.MACs
	}
	return sum
}
