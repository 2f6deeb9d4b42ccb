package train_test

import (
	"fmt"
	"log"
	"math"

	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/data"
)

// Load the committed ResNet-20 trained on Fashion-MNIST and classify three built-in test images,
// normalised as in training (the checkpoint records how).
func ExampleLoadCheckpoint() {
	ck, err := train.LoadCheckpoint("../experiments/fashion-mnist-resnet20") // a run directory or its checkpoint.ckpt
	if err != nil {
		log.Fatal(err)
	}
	test, err := data.Open("builtin", "", "test")
	if err != nil {
		log.Fatal(err)
	}
	first := test.Subset([]int{0, 1, 2})
	ev, err := ck.Evaluator(3)
	if err != nil {
		log.Fatal(err)
	}
	defer ev.Close()
	loader, err := ck.Loader(first, 3)
	if err != nil {
		log.Fatal(err)
	}
	it := loader.Epoch(0)
	defer it.Close()
	b, _ := it.Next()
	logits, err := ev.Logits(b.X)
	if err != nil {
		log.Fatal(err)
	}
	names := data.ClassNames("fashion-mnist", 10)
	logp := make([]float64, 10)
	for i := 0; i < b.N; i++ {
		train.LogSoftmax(logits, i, logp)
		best := 0
		for j := range logp {
			if logp[j] > logp[best] {
				best = j
			}
		}
		fmt.Printf("%s: predicted %s (%.0f%%)\n", names[b.Labels[i]], names[best], 100*math.Exp(logp[best]))
	}
	fmt.Println(ck.State.Model, "epoch", ck.State.Epoch)
	// Output:
	// Ankle boot: predicted Ankle boot (99%)
	// Pullover: predicted Pullover (100%)
	// Trouser: predicted Trouser (100%)
	// resnet20 epoch 20
}
