package train_test

import (
	"fmt"
	"log"

	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/resnet"
	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/data"
)

// Training steps by hand, without train.Run: a CIFAR-style ResNet-8 on a batch of synthetic
// 28×28 images, stepped three times on the same batch with SGD.
func ExampleTrainer() {
	ds, err := data.Synthetic(16, 1, 28, 28, 10, 1) // 16 images of 1×28×28 in 10 classes
	if err != nil {
		log.Fatal(err)
	}
	spec, err := resnet.ByName("resnet8", ds.Classes(), 1)
	if err != nil {
		log.Fatal(err)
	}
	p, err := graph.NewParams(tensor.Float32, 1) // the weights' store, seeded
	if err != nil {
		log.Fatal(err)
	}
	opt, err := train.NewSGD(train.SGDConfig{LR: 0.05, Momentum: 0.9})
	if err != nil {
		log.Fatal(err)
	}
	tr, err := train.NewTrainer(spec, p, graph.Config{}, 16, 28, 28, opt)
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	l, err := data.NewLoader(ds, data.LoaderConfig{Batch: 16, Dtype: tensor.Float32})
	if err != nil {
		log.Fatal(err)
	}
	it := l.Epoch(0)
	defer it.Close()
	b, _ := it.Next()
	var losses []float64
	for range 3 {
		loss, err := tr.Step(b.X, b.Labels) // forward, backward (gorgonia.Grad), SGD update
		if err != nil {
			log.Fatal(err)
		}
		losses = append(losses, loss)
	}
	fmt.Printf("%s: %d parameters\n", spec.Name, p.Count())
	fmt.Println("the loss falls on the batch:", losses[2] < losses[1] && losses[1] < losses[0])
	// Output:
	// resnet8: 75002 parameters
	// the loss falls on the batch: true
}
