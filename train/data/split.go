package data

import (
	"fmt"
	"math/rand"
	"sort"
)

// Split holds out nVal examples of s for validation, drawn without replacement with a seeded
// generator and stratified by class (each class gives its share, rounded by largest remainder),
// so that a small validation set still sees every class. Both parts keep the original order; the
// training part keeps s.Name and the validation part is named s.Name+"/val".
func Split(s *Images, nVal int, seed int64) (train, val *Images, err error) {
	n := s.Len()
	if nVal < 0 || nVal >= n {
		return nil, nil, fmt.Errorf("data: %s: a validation split of %d examples out of %d: want 0 ≤ n < %d", s.Name, nVal, n, n)
	}
	var groups [256][]int
	for i, l := range s.Labels {
		groups[l] = append(groups[l], i)
	}
	quota := stratify(&groups, n, nVal)
	rng := rand.New(rand.NewSource(seed))
	held := make([]bool, n)
	for k, g := range groups {
		if quota[k] == 0 {
			continue
		}
		for _, j := range rng.Perm(len(g))[:quota[k]] {
			held[g[j]] = true
		}
	}
	var ti, vi []int
	for i, h := range held {
		if h {
			vi = append(vi, i)
		} else {
			ti = append(ti, i)
		}
	}
	train, val = s.Subset(ti), s.Subset(vi)
	val.Name = s.Name + "/val"
	return train, val, nil
}

// stratify shares nVal out among the classes in proportion to their sizes: each class gets the
// floor of its share and the remaining examples go to the largest remainders (ties to the lower
// class), so the quotas sum to nVal and none exceeds its class.
func stratify(groups *[256][]int, n, nVal int) [256]int {
	var quota [256]int
	var rem [256]int
	left := nVal
	for k, g := range groups {
		exact := nVal * len(g)
		quota[k], rem[k] = exact/n, exact%n
		left -= quota[k]
	}
	order := make([]int, 256)
	for k := range order {
		order[k] = k
	}
	sort.SliceStable(order, func(a, b int) bool { return rem[order[a]] > rem[order[b]] })
	for _, k := range order[:left] {
		quota[k]++
	}
	return quota
}
