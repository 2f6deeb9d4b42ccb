package resnet

import (
	"fmt"
	"strings"
)

// Entry is one named model of the registry: what `trainer models` lists and what tools take as
// defaults when a user names only the model (as timm's pretrained configs do).
type Entry struct {
	Name string
	// Family is "imagenet" (torchvision's layout), "cifar" (the paper's §4.2), "lesson" (the
	// lesson's code), "preact-imagenet" or "preact-cifar" (He et al. 2016b's pre-activation nets
	// in those layouts).
	Family  string
	Plain   bool   // the plain twin: the same layers without shortcuts
	Classes int    // default number of classes: 1000 (ImageNet) or 10 (CIFAR-10)
	Input   [3]int // default input C, H, W
}

// The families' defaults, and the depths given a name of their own.
var (
	imagenetDepths    = []int{18, 34, 50, 101, 152}
	cifarDepths       = []int{20, 32, 44, 56, 110, 1202} // the paper's Table 6
	preActCIFARDepths = []int{20, 32, 44, 56, 110, 164}  // He et al. 2016b: 110 (basic), 164 (bottleneck)
)

// Models lists the registered models: torchvision's ResNets, the paper's CIFAR ResNets, the
// lesson's variant, the pre-activation ResNets (ImageNet, then CIFAR), and the plain twin of
// each, in that order. ByName takes every one of these names and also resnetD / plainD for any
// other CIFAR depth D = 6n+2 and preresnetD / preplainD for any other D = 6n+2 or 9n+2.
func Models() []Entry {
	imagenet, cifar := [3]int{3, 224, 224}, [3]int{3, 32, 32}
	var out []Entry
	for _, plain := range []bool{false, true} {
		for _, d := range imagenetDepths {
			out = append(out, Entry{Name: name("", plain, d), Family: "imagenet", Plain: plain, Classes: 1000, Input: imagenet})
		}
		for _, d := range cifarDepths {
			out = append(out, Entry{Name: name("", plain, d), Family: "cifar", Plain: plain, Classes: 10, Input: cifar})
		}
		for _, d := range imagenetDepths {
			out = append(out, Entry{Name: name(lessonPrefix, plain, d), Family: "lesson", Plain: plain, Classes: 1000, Input: imagenet})
		}
		for _, d := range imagenetDepths {
			out = append(out, Entry{Name: name(preActPrefix, plain, d), Family: "preact-imagenet", Plain: plain, Classes: 1000, Input: imagenet})
		}
		for _, d := range preActCIFARDepths {
			out = append(out, Entry{Name: name(preActPrefix, plain, d), Family: "preact-cifar", Plain: plain, Classes: 10, Input: cifar})
		}
	}
	return out
}

func name(prefix string, plain bool, depth int) string {
	if plain {
		return fmt.Sprintf("%splain%d", prefix, depth)
	}
	return fmt.Sprintf("%sresnet%d", prefix, depth)
}

// Lookup returns the registry entry of the model called name (case-insensitive, as ByName),
// with the defaults of its family for a CIFAR depth that has no entry of its own.
func Lookup(name string) (Entry, error) {
	s, err := ByName(name, 1, 3)
	if err != nil {
		return Entry{}, err
	}
	for _, e := range Models() {
		if e.Name == s.Name {
			return e, nil
		}
	}
	family := "cifar"
	if s.PreAct {
		family = "preact-cifar"
	}
	return Entry{Name: s.Name, Family: family, Plain: s.Plain, Classes: 10, Input: [3]int{3, 32, 32}}, nil
}

// unknown is the error for a name ByName does not take, listing what it takes from the registry.
func unknown(name string) error {
	var named []string
	for _, e := range Models() {
		if !e.Plain {
			named = append(named, e.Name)
		}
	}
	return fmt.Errorf("resnet: unknown model %q (want %s, resnetD for another CIFAR depth D = 6n+2, preresnetD for another "+
		"pre-activation CIFAR depth D = 6n+2 or 9n+2, or the plain twin of any, plainD, lesson-plainD or preplainD)",
		name, strings.Join(named, ", "))
}
