package train

import (
	"fmt"
	"strings"

	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
)

// SGDConfig holds the hyper-parameters of stochastic gradient descent.
type SGDConfig struct {
	LR          float64
	Momentum    float64
	WeightDecay float64
	Nesterov    bool
	// NoDecay1D exempts one-dimensional parameters (BatchNorm γ and β, biases) from weight decay,
	// as PyTorch users do with a second parameter group: decaying a BN scale only fights the
	// normalisation it feeds, while the conv weights it follows carry the regularisation.
	NoDecay1D bool
	// Frozen names prefixes of parameters that are not updated (fine-tuning with a frozen stem
	// and first stages): as PyTorch with requires_grad=False, they get no step, no decay and no
	// velocity. BatchNorm running statistics are buffers, not parameters, and keep updating in
	// training mode, as in PyTorch.
	Frozen []string
}

// SGD is PyTorch's torch.optim.SGD (dampening 0): with g the gradient and w the weight,
//
//	d = g + weight_decay·w
//	v = momentum·v + d            (v = d at the first step)
//	w = w − lr·v                  (or w − lr·(d + momentum·v) with Nesterov)
//
// Its state is one velocity per parameter, by name, so the order of parameters never matters.
type SGD struct {
	Config SGDConfig
	vel    map[string]*tensor.Dense
}

// NewSGD returns an optimiser with the given settings.
func NewSGD(c SGDConfig) (*SGD, error) {
	if c.LR <= 0 || c.Momentum < 0 || c.WeightDecay < 0 {
		return nil, fmt.Errorf("train: SGD needs lr > 0, momentum ≥ 0 and weight decay ≥ 0; got lr %g, momentum %g, weight decay %g",
			c.LR, c.Momentum, c.WeightDecay)
	}
	if c.Nesterov && c.Momentum == 0 {
		return nil, fmt.Errorf("train: Nesterov SGD needs momentum > 0")
	}
	return &SGD{Config: c, vel: map[string]*tensor.Dense{}}, nil
}

// Update applies one step to p given its gradient grad (same shape and dtype).
func (o *SGD) Update(p *graph.Param, grad tensor.Tensor) error {
	if !grad.Shape().Eq(p.Value.Shape()) || grad.Dtype() != p.Value.Dtype() {
		return fmt.Errorf("train: gradient of %s is %v %v, want %v %v", p.Name, grad.Dtype(), grad.Shape(), p.Value.Dtype(), p.Value.Shape())
	}
	for _, prefix := range o.Config.Frozen {
		if strings.HasPrefix(p.Name, prefix) {
			return nil
		}
	}
	v, seen := o.vel[p.Name]
	if !seen {
		v = tensor.New(tensor.Of(p.Value.Dtype()), tensor.WithShape(p.Value.Shape().Clone()...))
		o.vel[p.Name] = v
	}
	c := o.Config
	if c.NoDecay1D && p.Value.Dims() == 1 {
		c.WeightDecay = 0
	}
	switch w := p.Value.Data().(type) {
	case []float32:
		sgd(w, grad.Data().([]float32), v.Data().([]float32), float32(c.LR), float32(c.Momentum), float32(c.WeightDecay), c.Nesterov, !seen)
	case []float64:
		sgd(w, grad.Data().([]float64), v.Data().([]float64), c.LR, c.Momentum, c.WeightDecay, c.Nesterov, !seen)
	default:
		return fmt.Errorf("train: %s has unsupported dtype %v", p.Name, p.Value.Dtype())
	}
	return nil
}

// SetLR sets the learning rate of the following updates (a schedule calls it before each step).
func (o *SGD) SetLR(lr float64) { o.Config.LR = lr }

// Velocity returns the momentum buffer of the parameter called name; ok is false before its first
// update.
func (o *SGD) Velocity(name string) (v *tensor.Dense, ok bool) {
	v, ok = o.vel[name]
	return v, ok
}

// SetVelocity restores the momentum buffer of a parameter (from a checkpoint); the next update
// then continues the momentum instead of starting it.
func (o *SGD) SetVelocity(name string, v *tensor.Dense) { o.vel[name] = v }

func sgd[T float32 | float64](w, g, v []T, lr, mu, wd T, nesterov, first bool) {
	for i := range w {
		d := g[i] + wd*w[i]
		if mu != 0 {
			if first {
				v[i] = d
			} else {
				v[i] = mu*v[i] + d
			}
			if nesterov {
				d += mu * v[i]
			} else {
				d = v[i]
			}
		}
		w[i] -= lr * d
	}
}
