package train

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/graph/ops"
	"github.com/resnet-go/resnet/resnet"
)

// Trainer owns a training graph: the model in training mode, softmax cross-entropy against one-hot
// targets, the symbolic gradients of the loss, and a TapeMachine that runs them.
type Trainer struct {
	Model   *resnet.Model
	Targets *G.Node // (N, Classes) one-hot
	Loss    *G.Node // scalar
	Memory  ops.MemoryPlan

	opt     *SGD
	params  []graph.Binding
	vm      G.VM
	lossVal G.Value
	logits  G.Value
	onehot  *tensor.Dense

	// With graph.Config.Probe: gradients with respect to the block inputs, and the BN responses.
	inputGrads, responses *taps
}

// NewTrainer builds spec for batches of (batch, C, height, width) over the store p and prepares an
// SGD step. Several trainers and evaluators may share p.
func NewTrainer(spec resnet.Spec, p *graph.Params, cfg graph.Config, batch, height, width int, opt *SGD) (*Trainer, error) {
	cfg.Mode = graph.Train
	m, err := resnet.New(spec, p, cfg, batch, height, width)
	if err != nil {
		return nil, err
	}
	b := m.Builder
	targets := b.Input("targets", batch, spec.Classes)
	loss := b.SoftmaxCrossEntropy(m.Logits, targets)
	if err := b.Err(); err != nil {
		return nil, err
	}
	t := &Trainer{Model: m, Targets: targets, Loss: loss, opt: opt, params: b.Trainable()}
	nodes := make(G.Nodes, len(t.params))
	for i, bd := range t.params {
		nodes[i] = bd.Node
	}
	var grads G.Nodes
	if cfg.Probe {
		// G.Grad only takes input nodes; Backpropagate, which it calls, takes any. One pass for
		// everything: the block inputs' gradients are the very nodes the backward pass computes
		// on its way to the weights.
		wrt := append(G.Nodes(nil), nodes...)
		for _, tp := range b.BlockInputs() {
			wrt = append(wrt, tp.Node)
		}
		one := m.Graph.AddNode(G.NewConstant(oneOf(p.Dtype())))
		grads, err = G.Backpropagate(G.Nodes{loss}, G.Nodes{one}, wrt)
	} else {
		grads, err = G.Grad(loss, nodes...)
	}
	if err != nil {
		return nil, fmt.Errorf("train: differentiating %s: %w", spec.Name, err)
	}
	if cfg.Probe {
		t.inputGrads = newTaps(b.BlockInputs(), grads[len(nodes):])
		t.responses = newTaps(b.Responses(), nil)
	}
	// The loss is read through G.Read: after the backward pass a node's own value may already
	// hold another node's data (Gorgonia reuses registers).
	G.Read(loss, &t.lossVal)
	G.Read(m.Logits, &t.logits)
	t.onehot = tensor.New(tensor.Of(p.Dtype()), tensor.WithShape(batch, spec.Classes))
	if t.Memory, err = ops.PlanMemory(m.Graph); err != nil {
		return nil, err
	}
	// ops.Engine sums the gradients of the nodes that feed several ops (every block input).
	t.vm = G.NewTapeMachine(m.Graph, G.BindDualValues(nodes...), G.WithEngine(ops.Engine))
	return t, nil
}

// Step trains on one batch: x of shape (N, C, H, W) in the store's dtype and labels in
// [0, Classes). It returns the batch's mean loss before the update.
func (t *Trainer) Step(x *tensor.Dense, labels []int) (float64, error) {
	loss, err := t.Compute(x, labels)
	if err != nil {
		return 0, err
	}
	return loss, t.Apply()
}

// Compute runs the forward and backward passes on one batch and returns its mean loss; the
// gradients wait in the graph until Apply. Step is Compute then Apply; the two halves let a
// caller look at the gradients, or refuse a non-finite loss, before the weights change.
func (t *Trainer) Compute(x *tensor.Dense, labels []int) (float64, error) {
	if err := t.feed(x, labels); err != nil {
		return 0, err
	}
	t.vm.Reset()
	if err := t.vm.RunAll(); err != nil {
		return 0, fmt.Errorf("train: step: %w", err)
	}
	return scalar(t.lossVal)
}

// Apply updates every parameter from the gradients of the last Compute, then clears them.
func (t *Trainer) Apply() error {
	for _, bd := range t.params {
		gt, err := t.Gradient(bd)
		if err != nil {
			return err
		}
		if err := t.opt.Update(bd.Param, gt); err != nil {
			return err
		}
		// The machine adds each step's gradient into the node's dual value: clear it.
		gt.Zero()
	}
	return nil
}

// ClearGradients drops the gradients of the last Compute without applying them (after a
// measurement on a batch that must not train the model).
func (t *Trainer) ClearGradients() error {
	for _, bd := range t.params {
		gt, err := t.Gradient(bd)
		if err != nil {
			return err
		}
		gt.Zero()
	}
	return nil
}

// Gradient returns the gradient of the loss with respect to a trainable parameter after Compute
// (the value gorgonia.Grad's nodes produced, held in the parameter node's dual value).
func (t *Trainer) Gradient(bd graph.Binding) (tensor.Tensor, error) {
	g, err := bd.Node.Grad()
	if err != nil {
		return nil, fmt.Errorf("train: gradient of %s: %w", bd.Param.Name, err)
	}
	return g.(tensor.Tensor), nil
}

// Logits returns the logits (N, Classes) of the last Step's batch, computed before its update; the
// tensor is reused by the next step.
func (t *Trainer) Logits() *tensor.Dense {
	d, _ := t.logits.(*tensor.Dense)
	return d
}

// BlockInputGradients returns ∂L/∂x for the input x of every block, by block name, after Compute;
// nil unless the trainer was built with graph.Config.Probe.
func (t *Trainer) BlockInputGradients() []Reading { return t.inputGrads.read() }

// Responses returns every BatchNorm output (before ReLU or addition) of the last Compute, by
// layer name; nil unless the trainer was built with graph.Config.Probe.
func (t *Trainer) Responses() []Reading { return t.responses.read() }

// Params lists the trainable parameters of the graph with their nodes, in model order.
func (t *Trainer) Params() []graph.Binding { return t.params }

func (t *Trainer) feed(x *tensor.Dense, labels []int) error {
	in := t.Model.Input
	if err := fits(x, in); err != nil {
		return err
	}
	n, k := t.onehot.Shape()[0], t.onehot.Shape()[1]
	if len(labels) != n {
		return fmt.Errorf("train: %d labels for a batch of %d", len(labels), n)
	}
	t.onehot.Zero()
	for i, l := range labels {
		if l < 0 || l >= k {
			return fmt.Errorf("train: label %d of example %d is outside [0, %d)", l, i, k)
		}
		if err := t.onehot.SetAt(oneOf(t.onehot.Dtype()), i, l); err != nil {
			return err
		}
	}
	if err := G.Let(in, x); err != nil {
		return err
	}
	return G.Let(t.Targets, t.onehot)
}

// fits checks that x can be fed to the input node in.
func fits(x *tensor.Dense, in *G.Node) error {
	if !x.Shape().Eq(in.Shape()) || x.Dtype() != in.Dtype() {
		return fmt.Errorf("train: batch is %v %v, the graph wants %v %v", x.Dtype(), x.Shape(), in.Dtype(), in.Shape())
	}
	return nil
}

func oneOf(dt tensor.Dtype) any {
	if dt == tensor.Float32 {
		return float32(1)
	}
	return 1.0
}

func scalar(v G.Value) (float64, error) {
	switch d := v.Data().(type) {
	case float32:
		return float64(d), nil
	case float64:
		return d, nil
	case []float32:
		return float64(d[0]), nil
	case []float64:
		return d[0], nil
	}
	return 0, fmt.Errorf("train: loss has unexpected type %T", v.Data())
}

// Close releases the machine.
func (t *Trainer) Close() error { return t.vm.Close() }

// Evaluator runs a model in evaluation mode (running statistics, no gradients).
type Evaluator struct {
	Model     *resnet.Model
	Memory    ops.MemoryPlan
	vm        G.VM
	logits    G.Value
	responses *taps
}

// Responses returns every BatchNorm output of the last Logits call, by layer name; nil unless the
// evaluator was built with graph.Config.Probe.
func (e *Evaluator) Responses() []Reading { return e.responses.read() }

// NewEvaluator builds spec in evaluation mode for batches of (batch, C, height, width) over p.
func NewEvaluator(spec resnet.Spec, p *graph.Params, batch, height, width int) (*Evaluator, error) {
	return NewEvaluatorConfig(spec, p, graph.Config{}, batch, height, width)
}

// NewEvaluatorConfig is NewEvaluator with builder settings (cfg.Mode is set to Eval), for example
// graph.Config.Probe.
func NewEvaluatorConfig(spec resnet.Spec, p *graph.Params, cfg graph.Config, batch, height, width int) (*Evaluator, error) {
	cfg.Mode = graph.Eval
	m, err := resnet.New(spec, p, cfg, batch, height, width)
	if err != nil {
		return nil, err
	}
	e := &Evaluator{Model: m}
	G.Read(m.Logits, &e.logits)
	if cfg.Probe {
		e.responses = newTaps(m.Builder.Responses(), nil)
	}
	if e.Memory, err = ops.PlanMemory(m.Graph); err != nil {
		return nil, err
	}
	e.vm = G.NewTapeMachine(m.Graph, G.WithEngine(ops.Engine))
	return e, nil
}

// Logits runs the model on x and returns the logits (N, Classes); the tensor is reused by the
// next call.
func (e *Evaluator) Logits(x *tensor.Dense) (*tensor.Dense, error) {
	in := e.Model.Input
	if err := fits(x, in); err != nil {
		return nil, err
	}
	if err := G.Let(in, x); err != nil {
		return nil, err
	}
	e.vm.Reset()
	if err := e.vm.RunAll(); err != nil {
		return nil, fmt.Errorf("train: forward: %w", err)
	}
	return e.logits.(*tensor.Dense), nil
}

// Close releases the machine.
func (e *Evaluator) Close() error { return e.vm.Close() }

// Reading is a named value read out of a graph after a run.
type Reading struct {
	Name  string
	Value tensor.Tensor
}

// taps reads a list of nodes through G.Read, which keeps their values valid after the run even
// when the memory plan lets other nodes reuse buffers.
type taps struct {
	names []string
	vals  []G.Value
}

// newTaps reads each tap's node, or, when nodes is given, nodes[i] under the name of tap i.
func newTaps(tps []graph.Tap, nodes G.Nodes) *taps {
	t := &taps{names: make([]string, len(tps)), vals: make([]G.Value, len(tps))}
	for i, tp := range tps {
		t.names[i] = tp.Name
		n := tp.Node
		if nodes != nil {
			n = nodes[i]
		}
		G.Read(n, &t.vals[i])
	}
	return t
}

func (t *taps) read() []Reading {
	if t == nil {
		return nil
	}
	out := make([]Reading, len(t.names))
	for i, n := range t.names {
		v, _ := t.vals[i].(tensor.Tensor)
		out[i] = Reading{Name: n, Value: v}
	}
	return out
}
