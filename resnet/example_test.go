package resnet_test

import (
	"fmt"
	"log"

	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/resnet"
)

// The lesson's own example, ResNet18(num_classes=1000) on a 1×3×224×224 input, here with
// torchvision's layout and with the lesson's (convolutions with bias).
func ExampleResNet18() {
	for _, name := range []string{"resnet18", "lesson-resnet18"} {
		spec, err := resnet.ByName(name, 1000, 3)
		if err != nil {
			log.Fatal(err)
		}
		p, err := graph.NewParams(tensor.Float32, 1)
		if err != nil {
			log.Fatal(err)
		}
		m, err := resnet.New(spec, p, graph.Config{Mode: graph.Eval}, 1, 224, 224)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(name, p.Count(), "parameters, logits", m.Logits.Shape())
	}
	// Output:
	// resnet18 11689512 parameters, logits (1, 1000)
	// lesson-resnet18 11694312 parameters, logits (1, 1000)
}

// The registry: every named model with its family and default input, as `trainer models` prints.
func ExampleModels() {
	for _, e := range resnet.Models()[:6] {
		fmt.Println(e.Name, e.Family, e.Classes, e.Input)
	}
	// Output:
	// resnet18 imagenet 1000 [3 224 224]
	// resnet34 imagenet 1000 [3 224 224]
	// resnet50 imagenet 1000 [3 224 224]
	// resnet101 imagenet 1000 [3 224 224]
	// resnet152 imagenet 1000 [3 224 224]
	// resnet20 cifar 10 [3 32 32]
}

// The pre-activation ResNets of He et al. 2016b on CIFAR-10: ResNet-110 with basic blocks and
// ResNet-164 with bottlenecks, both of the paper's 1.7M parameters.
func ExamplePreActCIFAR() {
	for _, depth := range []int{110, 164} {
		spec, err := resnet.PreActCIFAR(depth, 10)
		if err != nil {
			log.Fatal(err)
		}
		p, err := graph.NewParams(tensor.Float32, 1)
		if err != nil {
			log.Fatal(err)
		}
		m, err := resnet.New(spec, p, graph.Config{Mode: graph.Eval}, 1, 32, 32)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(spec.Name, spec.Block, spec.Blocks, p.Count(), "parameters, logits", m.Logits.Shape())
	}
	// Output:
	// preresnet110 basic [18 18 18] 1727962 parameters, logits (1, 10)
	// preresnet164 bottleneck [18 18 18] 1703258 parameters, logits (1, 10)
}
