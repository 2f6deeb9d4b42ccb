package main

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/resnet-go/resnet/train/runlog"
)

// stuckErr is the training error at the last epoch from which a run counts as stuck: 10 classes
// give 90% by chance, and a run that learns is far below it after an epoch.
const stuckErr = 0.8

// sideStats summarises one side of a group (a model and a recipe) over its seeds.
type sideStats struct {
	finished, diverged int
	stuck              int       // runs that did not diverge but end near chance (training error ≥ stuckErr)
	trainLoss          []float64 // at the last epoch, of the runs that did not diverge
	testErr            []float64
	testLoss1          []float64 // eval-mode test loss after epoch 1, of every run that has it
}

// meanSD formats the mean and standard deviation of v with prec decimals.
func meanSD(v []float64, prec int) string {
	switch len(v) {
	case 0:
		return "–"
	case 1:
		return fmt.Sprintf("%.*f", prec, v[0])
	}
	m, sd := stat.MeanStdDev(v, nil)
	return fmt.Sprintf("%.*f ± %.*f", prec, m, prec, sd)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// welch is the difference of the means of a and b with its standard error and 95% confidence
// interval (Welch's t), or ok false with fewer than two values on a side.
func welch(a, b []float64) (diff, se, lo, hi float64, ok bool) {
	if len(a) < 2 || len(b) < 2 {
		return 0, 0, 0, 0, false
	}
	ma, va := stat.MeanVariance(a, nil)
	mb, vb := stat.MeanVariance(b, nil)
	qa, qb := va/float64(len(a)), vb/float64(len(b))
	diff, se = ma-mb, math.Sqrt(qa+qb)
	df := (qa + qb) * (qa + qb) / (qa*qa/float64(len(a)-1) + qb*qb/float64(len(b)-1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(0.975)
	return diff, se, diff - t*se, diff + t*se, true
}

// rankTest is the Mann–Whitney comparison of a and b, robust to the few runs that fail outright:
// the fraction of the pairs (one value of each) in which a's is higher (ties count half), and the
// two-sided p-value of "neither tends higher" by the normal approximation (no tie correction).
func rankTest(a, b []float64) (above, p float64, ok bool) {
	if len(a) < 2 || len(b) < 2 {
		return 0, 0, false
	}
	var u float64
	for _, x := range a {
		for _, y := range b {
			switch {
			case x > y:
				u++
			case x == y:
				u += 0.5
			}
		}
	}
	n1, n2 := float64(len(a)), float64(len(b))
	z := (u - n1*n2/2) / math.Sqrt(n1*n2*(n1+n2+1)/12)
	return u / (n1 * n2), 2 * distuv.UnitNormal.CDF(-math.Abs(z)), true
}

// at returns the record of an epoch, or ok false.
func at(recs []runlog.Record, epoch int) (runlog.Record, bool) {
	for _, r := range recs {
		if r.Epoch == epoch {
			return r, true
		}
	}
	return runlog.Record{}, false
}

// group is one cell of the grid: a model trained with a recipe, over the seeds and sides.
type group struct{ model, recipe string }

func (g group) String() string { return g.model + " × " + g.recipe }

// groups splits the grid's cells into those with at least one run started (in grid order) and
// those with none, which the tables and the figure leave out: a study run in part (the cells a
// session had time for) reads as what ran, not as a grid of empty rows.
func groups(s Study, rs []result) (ran, idle []group) {
	for _, m := range s.Models {
		for _, rc := range s.Recipes {
			g, started := group{m, rc}, false
			for _, r := range rs {
				started = started || (r.Model == m && r.Recipe == rc && len(r.records) > 0)
			}
			if started {
				ran = append(ran, g)
			} else {
				idle = append(idle, g)
			}
		}
	}
	return ran, idle
}

// summary is the results as Markdown: per group, each seed's numbers on each side, then the
// sides' means and the difference of the training loss with its uncertainty.
func summary(s Study, rs []result) string {
	last := s.Epochs
	if s.StopAfter > 0 {
		last = s.StopAfter
	}
	ran, idle := groups(s, rs)
	var b strings.Builder
	fmt.Fprintf(&b, "# Study: %s × %s × seeds %s × %s\n\n", strings.Join(s.Models, ", "), strings.Join(s.Recipes, ", "),
		seedList(s.Seeds), strings.Join(s.Sides, " and "))
	fmt.Fprintf(&b, "%s, the first %s training and %s test images, batch %d, %d-epoch schedule (lr ÷10 at 50%% and 75%%)",
		s.Data, countOrAll(s.TrainLimit), countOrAll(s.TestLimit), s.Batch, s.Epochs)
	if s.StopAfter > 0 {
		fmt.Fprintf(&b, ", its first %d epochs run", s.StopAfter)
	}
	b.WriteString(". Sides: go = this project, torch = its PyTorch peer (experiments/deep/peer.py), one core each.\n")
	if len(idle) > 0 {
		fmt.Fprintf(&b, "\nCells of the grid not run, left out below: %s.\n", joinGroups(idle))
	}
	for _, g := range ran {
		m, rc := g.model, g.recipe
		fmt.Fprintf(&b, "\n## %s, recipe %s\n\n%s.\n\n", m, rc, recipes[rc].about)
		stats := map[string]*sideStats{}
		head, rule := "| seed |", "|---:|"
		for _, side := range s.Sides {
			stats[side] = &sideStats{}
			head += fmt.Sprintf(" %s test loss, epoch 1 | %s train loss, epoch %d | %s test err, epoch %d |", side, side, last, side, last)
			rule += "---:|---:|---:|"
		}
		b.WriteString(head + "\n" + rule + "\n")
		for _, seed := range s.Seeds {
			row := fmt.Sprintf("| %d |", seed)
			for _, side := range s.Sides {
				r := find(rs, m, rc, seed, side)
				st := stats[side]
				e1, ok1 := at(r.records, 1)
				el, okl := at(r.records, last)
				cell1, cellL, cellE := "–", "–", "–"
				if ok1 {
					cell1 = fmt.Sprintf("%.4g", e1.TestLoss)
					st.testLoss1 = append(st.testLoss1, e1.TestLoss)
				}
				switch {
				case r.ok && r.status.Status == "diverged":
					st.finished++
					st.diverged++
					cellL, cellE = fmt.Sprintf("diverged (epoch %d)", r.status.Epochs+1), "–"
				case r.ok && okl:
					st.finished++
					st.trainLoss = append(st.trainLoss, el.TrainLoss)
					if el.TrainErr >= stuckErr {
						st.stuck++
					}
					st.testErr = append(st.testErr, el.TestErr)
					cellL, cellE = fmt.Sprintf("%.4f", el.TrainLoss), fmt.Sprintf("%.1f%%", 100*el.TestErr)
				case !r.ok:
					cellL = "not finished"
				}
				row += fmt.Sprintf(" %s | %s | %s |", cell1, cellL, cellE)
			}
			b.WriteString(row + "\n")
		}
		fmt.Fprintf(&b, "\n| side | finished | diverged | stuck (train err ≥ %.0f%%) | train loss, epoch %d (mean ± sd) | test err (mean ± sd) | median test loss, epoch 1 |\n|---|---:|---:|---:|---:|---:|---:|\n", 100*stuckErr, last)
		for _, side := range s.Sides {
			st := stats[side]
			errs := make([]float64, len(st.testErr))
			for i, e := range st.testErr {
				errs[i] = 100 * e
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %d | %s | %s%% | %.4g |\n", side, st.finished, st.diverged, st.stuck, meanSD(st.trainLoss, 4),
				meanSD(errs, 1), median(st.testLoss1))
		}
		if goSt, torchSt := stats[sideGo], stats[sideTorch]; goSt != nil && torchSt != nil {
			if d, se, lo, hi, ok := welch(goSt.trainLoss, torchSt.trainLoss); ok {
				mt := stat.Mean(torchSt.trainLoss, nil)
				fmt.Fprintf(&b, "\nTraining loss at epoch %d, go − torch: %+.4f (%+.1f%% of torch's mean), standard error %.4f, "+
					"95%% interval [%+.4f, %+.4f] (Welch, %d and %d runs that did not diverge): ", last, d, 100*d/mt, se, lo, hi,
					len(goSt.trainLoss), len(torchSt.trainLoss))
				if lo <= 0 && hi >= 0 {
					b.WriteString("no difference shown.\n")
				} else {
					b.WriteString("a difference.\n")
				}
			}
			if above, p, ok := rankTest(goSt.trainLoss, torchSt.trainLoss); ok {
				fmt.Fprintf(&b, "Ranks (Mann–Whitney, robust to runs that fail outright): go's loss is the higher in %.0f%% of the go–torch pairs, "+
					"medians %.4f and %.4f, p = %.2g.\n", 100*above, median(goSt.trainLoss), median(torchSt.trainLoss), p)
			}
		}
	}
	if len(ran) > 1 {
		b.WriteString(compare(ran, s.Sides, rs, last))
	}
	b.WriteString(depths(ran, s.Sides, rs, last))
	return b.String()
}

// g4 formats v to 4 significant digits, or "–" when there is none (NaN: no run finished).
func g4(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.4g", v)
}

func joinGroups(gs []group) string {
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.String()
	}
	return strings.Join(names, ", ")
}

// compare is one table over the groups: how each recipe trains each model on each side, with the
// signs of instability (a wild eval-mode loss after the first epoch, an epoch whose mean training
// loss is above the one before it) beside the final errors.
func compare(ran []group, sides []string, rs []result, last int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## All groups\n\nMeans over the seeds that did not diverge (runs: finished, diverged in brackets); setbacks: "+
		"epochs whose mean training loss rose over the epoch before, summed over the runs.\n\n")
	b.WriteString("| model | recipe | side | runs | test loss after epoch 1 (median) | largest test loss, any epoch | setbacks | train loss, epoch " + fmt.Sprint(last) +
		" | train err | test err |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, g := range ran {
		m, rc := g.model, g.recipe
		for _, side := range sides {
			var n, div, setbacks int
			var loss1, tl, te, ee []float64
			worst := math.NaN()
			for _, r := range rs {
				if r.Model != m || r.Recipe != rc || r.Side != side || !r.ok {
					continue
				}
				n++
				if e1, ok := at(r.records, 1); ok {
					loss1 = append(loss1, e1.TestLoss)
				}
				for i, rec := range r.records {
					if i > 0 && rec.TrainLoss > r.records[i-1].TrainLoss {
						setbacks++
					}
					if !(rec.TestLoss <= worst) { // NaN worst: the first
						worst = rec.TestLoss
					}
				}
				if r.status.Status == "diverged" {
					div++
					continue
				}
				if el, ok := at(r.records, last); ok {
					tl, te, ee = append(tl, el.TrainLoss), append(te, 100*el.TrainErr), append(ee, 100*el.TestErr)
				}
			}
			mean := func(v []float64, prec int, unit string) string {
				if len(v) == 0 {
					return "–"
				}
				return fmt.Sprintf("%.*f%s", prec, stat.Mean(v, nil), unit)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %d (%d) | %s | %s | %d | %s | %s | %s |\n", m, rc, side, n, div, g4(median(loss1)), g4(worst), setbacks,
				mean(tl, 4, ""), mean(te, 1, "%"), mean(ee, 1, "%"))
		}
	}
	return b.String()
}

func find(rs []result, model, recipe string, seed int64, side string) result {
	for _, r := range rs {
		if r.Model == model && r.Recipe == recipe && r.Seed == seed && r.Side == side {
			return r
		}
	}
	return result{}
}

func countOrAll(n int) string {
	if n == 0 {
		return "all"
	}
	return fmt.Sprintf("%d", n)
}

func seedList(seeds []int64) string {
	if len(seeds) > 2 && seeds[len(seeds)-1]-seeds[0] == int64(len(seeds)-1) {
		return fmt.Sprintf("%d–%d", seeds[0], seeds[len(seeds)-1])
	}
	var parts []string
	for _, s := range seeds {
		parts = append(parts, fmt.Sprint(s))
	}
	return strings.Join(parts, ", ")
}

// family is the depths of one family of nets (resnet, preresnet, plain, …) trained with one
// recipe, when the study ran at least two of them.
type family struct {
	name, recipe string
	depths       []int // ascending
}

// model is the name of the family's net of depth d.
func (f family) model(d int) string { return fmt.Sprint(f.name, d) }

// families groups the cells that ran by family and recipe, keeping those with two depths or more.
func families(ran []group) []family {
	var fs []family
	for _, g := range ran {
		name, d, ok := familyDepth(g.model)
		if !ok {
			continue
		}
		i := slices.IndexFunc(fs, func(f family) bool { return f.name == name && f.recipe == g.recipe })
		if i < 0 {
			fs, i = append(fs, family{name: name, recipe: g.recipe}), len(fs)
		}
		fs[i].depths = append(fs[i].depths, d)
	}
	fs = slices.DeleteFunc(fs, func(f family) bool { return len(f.depths) < 2 })
	for _, f := range fs {
		slices.Sort(f.depths)
	}
	return fs
}

// depthEpochs is how many of the last epochs the depth comparison averages, as the degradation
// study does: one epoch's training error moves by about a point from the next one's.
const depthEpochs = 3

// depths compares the depths of each family trained with the same recipe, on each side: the
// paper's claim that a deeper ResNet trains no worse (ResNet-110 ≤ ResNet-56 ≤ ResNet-20 in
// training error, Fig. 6) and its converse for plain nets (degradation), on the training error of
// the last depthEpochs epochs of the runs that did not diverge. Empty when no family has two
// depths.
func depths(ran []group, sides []string, rs []result, last int) string {
	fs := families(ran)
	if len(fs) == 0 {
		return ""
	}
	var b strings.Builder
	first := max(1, last-depthEpochs+1)
	fmt.Fprintf(&b, "\n## Depth\n\nTraining error (the augmented batches in training mode, as in the paper's curves), each run's mean over "+
		"epochs %d–%d, then mean ± sd over the runs that did not diverge (their number in brackets), and whether each deeper net's "+
		"is no higher than the next shallower one's.\n\n| family | recipe | side | training error by depth | deeper ≤ shallower |\n|---|---|---|---|---|\n", first, last)
	for _, f := range fs {
		for _, side := range sides {
			var cells, verdicts []string
			means := make([]float64, len(f.depths))
			for i, d := range f.depths {
				var errs []float64
				for _, r := range rs {
					if r.Model != f.model(d) || r.Recipe != f.recipe || r.Side != side || !r.ok || r.status.Status == "diverged" {
						continue
					}
					var sum float64
					n := 0
					for e := first; e <= last; e++ {
						if rec, ok := at(r.records, e); ok {
							sum, n = sum+rec.TrainErr, n+1
						}
					}
					if n == last-first+1 {
						errs = append(errs, 100*sum/float64(n))
					}
				}
				means[i] = math.NaN()
				if len(errs) > 0 {
					means[i] = stat.Mean(errs, nil)
				}
				cells = append(cells, fmt.Sprintf("%d: %s%% (%d)", d, meanSD(errs, 1), len(errs)))
				if i == 0 {
					continue
				}
				v := "–"
				switch deep, shallow := means[i], means[i-1]; {
				case math.IsNaN(deep) || math.IsNaN(shallow):
				case deep <= shallow:
					v = fmt.Sprintf("holds (%+.1f points)", deep-shallow)
				default:
					v = fmt.Sprintf("does not hold (%+.1f points)", deep-shallow)
				}
				verdicts = append(verdicts, fmt.Sprintf("%d ≤ %d: %s", d, f.depths[i-1], v))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", f.name, f.recipe, side, strings.Join(cells, ", "), strings.Join(verdicts, "; "))
		}
	}
	return b.String()
}

// familyDepth splits a model's name into its family and depth: resnet110 → resnet, 110.
func familyDepth(model string) (family string, depth int, ok bool) {
	family = strings.TrimRight(model, "0123456789")
	depth, err := strconv.Atoi(model[len(family):])
	return family, depth, err == nil && family != ""
}
