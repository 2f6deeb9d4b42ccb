package train

import (
	"fmt"
	"math"
	"sort"

	"github.com/resnet-go/resnet/train/data"
)

// Prediction is a model's most probable classes for one image, most probable first: their
// indices, names (the data set's, or the index as text) and probabilities.
type Prediction struct {
	Classes []int
	Names   []string
	Probs   []float64
}

// classifyBatch bounds the evaluator's batch: larger sets go through in several.
const classifyBatch = 64

// Classify runs images (raw pixels in the data set's layout, of the checkpoint's input shape)
// through the checkpoint's model in evaluation mode, normalised as in training, and returns the
// top k classes of each image in order. The labels of images are not used.
func (c *Checkpoint) Classify(images data.Dataset, k int) ([]Prediction, error) {
	classes := c.State.Classes
	if k < 1 || k > classes {
		return nil, fmt.Errorf("classify: top %d of %d classes: want 1 to %d", k, classes, classes)
	}
	n := images.Len()
	if n == 0 {
		return nil, fmt.Errorf("classify: no images")
	}
	if ch, h, w := images.Shape(); ch != c.State.Input[0] || h != c.State.Input[1] || w != c.State.Input[2] {
		return nil, fmt.Errorf("classify: %d×%d×%d images; checkpoint %s takes %d×%d×%d",
			ch, h, w, c.Path, c.State.Input[0], c.State.Input[1], c.State.Input[2])
	}
	batch := min(n, classifyBatch)
	ev, err := c.Evaluator(batch)
	if err != nil {
		return nil, err
	}
	defer ev.Close()
	l, err := c.Loader(images, batch)
	if err != nil {
		return nil, err
	}
	it := l.Epoch(0)
	defer it.Close()
	names := data.ClassNames(c.State.Config.Data, classes)
	out := make([]Prediction, n)
	logp := make([]float64, classes)
	order := make([]int, classes)
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		logits, err := ev.Logits(b.X)
		if err != nil {
			return nil, err
		}
		for i := 0; i < b.N; i++ {
			LogSoftmax(logits, i, logp)
			for j := range order {
				order[j] = j
			}
			sort.SliceStable(order, func(a, b int) bool { return logp[order[a]] > logp[order[b]] })
			p := Prediction{Classes: append([]int(nil), order[:k]...), Names: make([]string, k), Probs: make([]float64, k)}
			for r, j := range p.Classes {
				p.Names[r], p.Probs[r] = names[j], math.Exp(logp[j])
			}
			out[b.Indices[i]] = p
		}
	}
	return out, nil
}
