package train

import (
	"fmt"
	"math"
	"sort"
)

// Schedule gives the learning rate of each optimiser step, counted from 0 over a run of Total
// steps. Warm-up, when set, ramps the rate linearly up to Base over the first Warmup steps (or
// holds it at WarmupLR) and the chosen shape then runs over the remaining steps.
type Schedule struct {
	// Kind is "step" (the paper: Base, divided by 1/Gamma at each milestone), "cosine" (half a
	// cosine from Base down to 0, as PyTorch's CosineAnnealingLR with eta_min 0) or "constant".
	Kind string
	Base float64
	// Milestones are fractions of the run (after warm-up) at which a step schedule multiplies the
	// rate by Gamma. The paper's CIFAR schedule divides by 10 at 32k and 48k of 64k iterations:
	// {0.5, 0.75} with Gamma 0.1.
	Milestones []float64
	Gamma      float64
	Warmup     int
	// WarmupLR, when positive, is a constant rate for the warm-up steps instead of the linear
	// ramp: the paper trains ResNet-110 at 0.01 until its training error is below 80%, then at
	// 0.1 (see Config.WarmupUntilErr and EndWarmup).
	WarmupLR float64
	Total    int
}

// ScheduleKinds lists the valid values of Schedule.Kind.
const ScheduleKinds = "step, cosine or constant"

// Validate reports a schedule that cannot be followed.
func (s Schedule) Validate() error {
	switch {
	case s.Kind != "step" && s.Kind != "cosine" && s.Kind != "constant":
		return fmt.Errorf("train: schedule %q: want %s", s.Kind, ScheduleKinds)
	case s.Base <= 0 || math.IsInf(s.Base, 0) || math.IsNaN(s.Base):
		return fmt.Errorf("train: learning rate %g must be positive", s.Base)
	case s.Total < 1:
		return fmt.Errorf("train: schedule over %d steps: want at least 1", s.Total)
	case s.Warmup < 0 || s.Warmup >= s.Total:
		return fmt.Errorf("train: %d warm-up steps for a run of %d steps", s.Warmup, s.Total)
	case !(s.WarmupLR >= 0) || math.IsInf(s.WarmupLR, 0):
		return fmt.Errorf("train: warm-up learning rate %g: want 0 (a linear ramp) or a positive rate", s.WarmupLR)
	}
	if s.Kind == "step" {
		if !(s.Gamma > 0 && s.Gamma <= 1) { // NaN fails every comparison
			return fmt.Errorf("train: step schedule gamma %g: want 0 < gamma ≤ 1", s.Gamma)
		}
		for _, m := range s.Milestones {
			if !(m > 0 && m < 1) {
				return fmt.Errorf("train: milestone %g: want a fraction of the run in (0, 1)", m)
			}
		}
		if !sort.Float64sAreSorted(s.Milestones) {
			return fmt.Errorf("train: milestones %v are not increasing", s.Milestones)
		}
	}
	return nil
}

// At returns the learning rate of step (0-based).
func (s Schedule) At(step int) float64 {
	if step < s.Warmup {
		if s.WarmupLR > 0 {
			return s.WarmupLR
		}
		return s.Base * float64(step+1) / float64(s.Warmup)
	}
	t, n := step-s.Warmup, s.Total-s.Warmup
	switch s.Kind {
	case "step":
		lr := s.Base
		for _, m := range s.Milestones {
			if t >= int(math.Round(m*float64(n))) {
				lr *= s.Gamma
			}
		}
		return lr
	case "cosine":
		return s.Base * (1 + math.Cos(math.Pi*float64(t)/float64(n))) / 2
	}
	return s.Base
}

// EndWarmup returns the schedule of a run whose warm-up ended after its first steps steps, before
// the Warmup planned: the chosen shape then runs over all the remaining steps, as it does after a
// warm-up of that length.
func (s Schedule) EndWarmup(steps int) Schedule {
	if steps >= 0 && steps < s.Warmup {
		s.Warmup = steps
	}
	return s
}
