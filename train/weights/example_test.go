package weights_test

import (
	"bytes"
	"fmt"
	"log"

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
