package train

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/train/data"
)

// Metrics are a model's results on a data set.
type Metrics struct {
	N         int     // examples
	Loss      float64 // mean softmax cross-entropy
	Err       float64 // fraction misclassified (top-1)
	Top5Err   float64 // fraction whose label is not among the 5 most probable classes
	Confusion [][]int // Confusion[label][predicted]
}

// Evaluate runs ev over every batch of l (padding rows ignored) in evaluation mode.
func Evaluate(ev *Evaluator, l *data.Loader) (Metrics, error) {
	return EvaluateProgress(ev, l, nil)
}

// EvaluateProgress is Evaluate calling report (when not nil) after every batch with the batches
// done, of l.Batches(), and that batch's mean loss: a progress display for a long evaluation.
func EvaluateProgress(ev *Evaluator, l *data.Loader, report func(done, total int, loss float64)) (Metrics, error) {
	k := ev.Model.Spec.Classes
	m := Metrics{Confusion: make([][]int, k)}
	for i := range m.Confusion {
		m.Confusion[i] = make([]int, k)
	}
	it := l.Epoch(0)
	defer it.Close()
	var sum float64
	var top5Wrong int
	probs := make([]float64, k)
	done, total := 0, l.Batches()
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		logits, err := ev.Logits(b.X)
		if err != nil {
			return m, err
		}
		before := sum
		for i := 0; i < b.N; i++ {
			label := b.Labels[i]
			if label < 0 || label >= k {
				return m, fmt.Errorf("label %d of example %d is outside [0, %d)", label, b.Indices[i], k)
			}
			sum -= LogSoftmax(logits, i, probs)[label]
			m.Confusion[label][argmax(probs)]++
			if rank(probs, label) >= 5 {
				top5Wrong++
			}
			m.N++
		}
		if done++; report != nil && b.N > 0 {
			report(done, total, (sum-before)/float64(b.N))
		}
	}
	if m.N == 0 {
		return m, fmt.Errorf("evaluating on an empty data set")
	}
	wrong := m.N
	for i := range m.Confusion {
		wrong -= m.Confusion[i][i]
	}
	m.Loss, m.Err = sum/float64(m.N), float64(wrong)/float64(m.N)
	m.Top5Err = float64(top5Wrong) / float64(m.N)
	return m, nil
}

// rank is the number of classes more probable than class c (0: c is the prediction); a tie
// counts against c, so that a constant output is not credited with every label.
func rank(p []float64, c int) int {
	r := 0
	for j, v := range p {
		if j != c && v >= p[c] {
			r++
		}
	}
	return r
}

// LogSoftmax writes the log-probabilities of row i of logits (N, K) into dst (len K) and returns
// it, subtracting the row's maximum first so that large logits cannot overflow. A dst of another
// length or a row out of range is the caller's bug and panics, as gonum's functions do on
// mismatched dimensions, rather than giving wrong probabilities.
func LogSoftmax(logits *tensor.Dense, i int, dst []float64) []float64 {
	sh := logits.Shape()
	if len(sh) != 2 || i < 0 || i >= sh[0] || len(dst) != sh[1] {
		panic(fmt.Sprintf("train: LogSoftmax of row %d of logits %v into %d values: want a row of (N, K) logits and K values", i, sh, len(dst)))
	}
	k := sh[1]
	switch d := logits.Data().(type) {
	case []float32:
		for j := range dst {
			dst[j] = float64(d[i*k+j])
		}
	case []float64:
		copy(dst, d[i*k:(i+1)*k])
	}
	mx := math.Inf(-1)
	for _, v := range dst {
		mx = math.Max(mx, v)
	}
	var s float64
	for _, v := range dst {
		s += math.Exp(v - mx)
	}
	lse := mx + math.Log(s)
	for j := range dst {
		dst[j] -= lse
	}
	return dst
}
