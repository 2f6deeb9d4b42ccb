package runlog_test

import (
	"bytes"
	"fmt"
	"image/png"

	"gonum.org/v1/plot/vg"

	"github.com/resnet-go/resnet/train/runlog"
)

// A figure of two grey 28×28 images, the first with the classes a model ranked highest.
func ExampleImagesPNG() {
	img := func(v byte) []byte { return bytes.Repeat([]byte{v}, 28*28) }
	shown := []runlog.Shown{
		{Pix: img(40), C: 1, H: 28, W: 28, Title: "label: Coat",
			Classes: []string{"Coat", "Pullover", "Shirt"}, Probs: []float64{0.8, 0.15, 0.05}},
		{Pix: img(220), C: 1, H: 28, W: 28, Title: "label: Bag"},
	}
	b, err := runlog.ImagesPNG("predictions", shown, 2, 8*vg.Inch, 2*vg.Inch)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	fmt.Println(cfg.Width, cfg.Height, err)
	// Output: 800 200 <nil>
}
