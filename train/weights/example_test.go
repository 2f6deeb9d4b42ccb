package weights_test

import (
	"bytes"
	"fmt"
	"log"

	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/resnet"
	"github.com/resnet-go/resnet/train/weights"
)

// A File written to safetensors and read back.
func ExampleWriteSafetensors() {
	f := &weights.File{
		Tensors: []weights.Tensor{
			{Name: "fc.weight", Shape: []int{2, 3}, Dtype: weights.F32, F32: []float32{1, 2, 3, 4, 5, 6}},
			{Name: "bn1.num_batches_tracked", Shape: []int{}, Dtype: weights.I64, I64: []int64{100}},
		},
		Metadata: map[string]string{"format": "pt"},
	}
	var buf bytes.Buffer
	if err := weights.WriteSafetensors(&buf, f); err != nil {
		log.Fatal(err)
	}
	back, err := weights.ReadSafetensors(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range back.Tensors {
		fmt.Println(t.Name, t.Dtype, t.Shape, t.F32, t.I64)
	}
	fmt.Println(back.Metadata)

	// Output:
	// fc.weight F32 [2 3] [1 2 3 4 5 6] []
	// bn1.num_batches_tracked I64 [] [] [100]
	// map[format:pt]
}

// A state_dict saved by torch.save, read without Python; the format is told by the content.
func ExampleReadFile() {
	f, err := weights.ReadFile("testdata/golden_ckpt.pth") // torch.save({"epoch": 3, "state_dict": …, "optimizer": …})
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range f.Tensors {
		fmt.Println(t.Name, t.Dtype, t.Shape)
	}
	if nbt, ok := f.Get("bn1.num_batches_tracked"); ok {
		fmt.Println("batches:", nbt.I64[0])
	}

	// Output:
	// conv1.weight F32 [4 3 3 3]
	// bn1.num_batches_tracked I64 []
	// view.strided_slice F32 [3]
	// batches: 7
}

// Moving a model's weights between parameter stores by name, as PyTorch's state_dict and
// load_state_dict do: here a ResNet-20 for 10 classes into one for 5 (fine-tuning), which a
// strict load refuses and a non-strict one reports.
func ExampleLoad() {
	build := func(classes int, seed int64) *graph.Params {
		spec, err := resnet.ByName("resnet20", classes, 3)
		if err != nil {
			log.Fatal(err)
		}
		p, err := graph.NewParams(tensor.Float32, seed)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := resnet.Summarize(spec, p, 32, 32); err != nil { // creates the tensors
			log.Fatal(err)
		}
		return p
	}
	sd := weights.FromParams(build(10, 1), 0)
	target := build(5, 2)
	if _, err := weights.Load(target, sd, true); err != nil {
		fmt.Println(err)
	}
	rep, err := weights.Load(target, sd, false)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(rep.Loaded), "tensors loaded;", rep)

	// Output:
	// weights: the file does not fit the model: shape mismatches: fc.weight [10 64] in the file, [5 64] in the model; fc.bias [10] in the file, [5] in the model
	// 95 tensors loaded; shape mismatches: fc.weight [10 64] in the file, [5 64] in the model; fc.bias [10] in the file, [5] in the model
}
