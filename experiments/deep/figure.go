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
	for _, m := range s.Models {
		for _, rc := range s.Recipes {
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
	}
	return runlog.LinesGridPNG("", rows, 3*4*vg.Inch, vg.Length(len(rows))*3.2*vg.Inch)
}
