package data

import (
	"strconv"
	"strings"
)

// ClassNames returns the names of the k classes of the data set called name (see Open): the
// Fashion-MNIST garments for fashion-mnist and builtin, the digits for mnist, CIFAR-10's ten
// classes; for any other set, or a k that is not the set's, the class numbers "0", "1", ….
func ClassNames(name string, k int) []string {
	var names []string
	switch name {
	case "fashion-mnist", "builtin":
		names = strings.Split("T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot", ",")
	case "cifar10":
		names = strings.Split("airplane,automobile,bird,cat,deer,dog,frog,horse,ship,truck", ",")
	}
	if len(names) != k {
		names = make([]string, max(k, 0))
		for i := range names {
			names[i] = strconv.Itoa(i)
		}
	}
	return names
}
