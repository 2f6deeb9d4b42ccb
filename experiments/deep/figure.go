package main

import (
	"fmt"
	"sort"

	"gonum.org/v1/plot/vg"

	"github.com/resnet-go/resnet/train/runlog"
)

const figureFile = "study.png"

// sideColor keeps each side's colour across panels and figures.
var sideColor = map[string]int{sideGo: 0, sideTorch: 1}

// figure draws one row per group (a model and a recipe) of three panels: each side's runs sorted
// by their training loss at the last epoch and by their eval-mode test loss after epoch 1 (the
// distributions the tables summarise, one point per run), and every run's training loss per epoch.
func figure(s Study, rs []result, last int) ([]byte, error) {
	var rows [][]runlog.Panel
	ran, idle := groups(s, rs)
	if len(ran) == 0 { // nothing started yet: the grid's empty panels
		ran = idle
	}
	for _, g := range ran {
		m, rc := g.model, g.recipe
		sorted := func(title, ylabel string, logY bool, pick func(r result) (float64, bool)) runlog.Panel {
			p := runlog.Panel{Title: title, XLabel: "fraction of the runs", YLabel: ylabel, LogY: logY}
			for _, side := range s.Sides {
				var ys []float64
				for _, r := range rs {
					if r.Model == m && r.Recipe == rc && r.Side == side {
						if v, ok := pick(r); ok {
							ys = append(ys, v)
						}
					}
				}
				sort.Float64s(ys)
				xs := make([]float64, len(ys))
				for i := range ys {
					xs[i] = (float64(i) + 0.5) / float64(len(ys))
				}
				p.Lines = append(p.Lines, runlog.Line{Name: fmt.Sprintf("%s (%d runs)", side, len(ys)), X: xs, Y: ys, Color: sideColor[side], Points: true})
			}
			return p
		}
		row := []runlog.Panel{
			sorted(fmt.Sprintf("%s %s: train loss, epoch %d", m, rc, last), "training loss", false, func(r result) (float64, bool) {
				rec, ok := at(r.records, last)
				return rec.TrainLoss, ok && r.ok && r.status.Status != "diverged"
			}),
			sorted(fmt.Sprintf("%s %s: test loss after epoch 1", m, rc), "test loss (eval mode)", true, func(r result) (float64, bool) {
				rec, ok := at(r.records, 1)
				return rec.TestLoss, ok
			})}
		curves := runlog.Panel{Title: fmt.Sprintf("%s %s: every run", m, rc), XLabel: "epoch", YLabel: "training loss", LogY: true}
		named := map[string]bool{}
		for _, r := range rs {
			if r.Model != m || r.Recipe != rc || len(r.records) == 0 {
				continue
			}
			l := runlog.Line{Color: sideColor[r.Side], Dashed: r.Side == sideTorch}
			if !named[r.Side] {
				l.Name, named[r.Side] = r.Side, true
			}
			for _, rec := range r.records {
				l.X, l.Y = append(l.X, float64(rec.Epoch)), append(l.Y, rec.TrainLoss)
			}
			curves.Lines = append(curves.Lines, l)
		}
		rows = append(rows, append(row, curves))
	}
	for _, f := range families(ran) {
		rows = append(rows, depthRow(f, rs))
	}
	return runlog.LinesGridPNG("", rows, 3*4*vg.Inch, vg.Length(len(rows))*3.2*vg.Inch)
}

// depthRow draws a family's depths side by side, as the paper's Fig. 6 does: training error, test
// error and training loss per epoch on log axes (the late epochs, where depths separate, stay
// readable), one colour per depth, each side's runs (torch dashed).
func depthRow(f family, rs []result) []runlog.Panel {
	panel := func(what, ylabel string, logY bool, pick func(runlog.Record) float64) runlog.Panel {
		p := runlog.Panel{Title: fmt.Sprintf("%s, %s: %s by depth", f.name, f.recipe, what), XLabel: "epoch", YLabel: ylabel, LogY: logY}
		for i, d := range f.depths {
			named := map[string]bool{}
			for _, r := range rs {
				if r.Model != f.model(d) || r.Recipe != f.recipe || len(r.records) == 0 {
					continue
				}
				l := runlog.Line{Color: i, Dashed: r.Side == sideTorch}
				if !named[r.Side] {
					l.Name, named[r.Side] = fmt.Sprintf("%s %s", f.model(d), r.Side), true
				}
				for _, rec := range r.records {
					l.X, l.Y = append(l.X, float64(rec.Epoch)), append(l.Y, pick(rec))
				}
				p.Lines = append(p.Lines, l)
			}
		}
		return p
	}
	return []runlog.Panel{
		panel("training error", "training error (%)", true, func(r runlog.Record) float64 { return 100 * r.TrainErr }),
		panel("test error", "test error (%)", true, func(r runlog.Record) float64 { return 100 * r.TestErr }),
		panel("training loss", "training loss", true, func(r runlog.Record) float64 { return r.TrainLoss }),
	}
}
