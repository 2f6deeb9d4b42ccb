package train_test

import (
	"fmt"
	"log"

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
	preds, err := ck.Classify(first, 2) // the two most probable classes of each
	if err != nil {
		log.Fatal(err)
	}
	names := data.ClassNames("fashion-mnist", 10)
	for i, p := range preds {
		_, label := first.Image(i)
		fmt.Printf("%s: predicted %s (%.0f%%), then %s\n", names[label], p.Names[0], 100*p.Probs[0], p.Names[1])
	}
	fmt.Println(ck.State.Model, "epoch", ck.State.Epoch)
	// Output:
	// Ankle boot: predicted Ankle boot (99%), then Sneaker
	// Pullover: predicted Pullover (100%), then Shirt
	// Trouser: predicted Trouser (100%), then Dress
	// resnet20 epoch 20
}
