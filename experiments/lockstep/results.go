package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot/vg"

	"github.com/resnet-go/resnet/graph/ops"
	"github.com/resnet-go/resnet/train/runlog"
)

// stepRow is one line of steps.csv.
type stepRow struct {
	Dtype     string
	Step      int // from 1
	Quantity  string
	Go, Torch float64
	Rel       float64 // |go − torch| / |torch|
}

// paramRow is one line of params.csv; Grad1 fields are empty for buffers.
type paramRow struct {
	Dtype, Name         string
	Grad1Rel, Grad1Norm string
	FinalRel            float64
}

// runRow is one line of runs.csv.
type runRow struct {
	Dtype, Model, Data   string
	Steps, Batch, Warmup int
	LR                   float64
	GoSeconds, TorchSecs float64
	Command              string
}

var (
	stepsHeader  = []string{"dtype", "step", "quantity", "go", "torch", "rel_diff"}
	paramsHeader = []string{"dtype", "name", "grad1_rel_diff", "grad1_norm_torch", "final_rel_diff"}
	runsHeader   = []string{"dtype", "model", "data", "steps", "batch", "lr", "warmup", "go_seconds", "torch_seconds", "command"}
	// control.csv: the control's loss (-control), read as stepRows whose Torch is the nudged Go
	// run; ulps is the nudge.
	controlHeader = []string{"dtype", "step", "ulps", "go", "go_nudged", "rel_diff"}
)

func relDiff(a, b float64) float64 {
	d := math.Abs(a - b)
	if d == 0 {
		return 0
	}
	return d / math.Abs(b)
}

// rank orders the quantities: loss first, then gradients, statistics, the learning rate.
func rank(q string) int {
	switch {
	case q == "loss":
		return 0
	case q == "grad_norm":
		return 1
	case strings.HasPrefix(q, "grad:"):
		return 2
	case strings.HasPrefix(q, "running_var:"):
		return 3
	case strings.HasPrefix(q, "running_mean"):
		return 4
	}
	return 5
}

func sortQuantities(qs []string) {
	sort.SliceStable(qs, func(i, j int) bool {
		if rank(qs[i]) != rank(qs[j]) {
			return rank(qs[i]) < rank(qs[j])
		}
		return qs[i] < qs[j]
	})
}

// rows turns a run's records into steps.csv, control.csv (without the ulps) and params.csv lines.
func (r dtypeRun) rows() (steps, control []stepRow, params []paramRow) {
	var qs []string
	for q := range r.Go.Steps[0] {
		qs = append(qs, q)
	}
	sortQuantities(qs)
	for k := range r.Go.Steps {
		for _, q := range qs {
			g, t := r.Go.Steps[k][q], r.Torch.Steps[k][q]
			steps = append(steps, stepRow{r.Dtype, k + 1, q, g, t, relDiff(g, t)})
		}
	}
	for k, l := range r.Nudged {
		g := r.Go.Steps[k]["loss"]
		control = append(control, stepRow{r.Dtype, k + 1, "loss", g, l, relDiff(l, g)})
	}
	for _, p := range r.Torch.Params {
		pr := paramRow{Dtype: r.Dtype, Name: p.Name, FinalRel: p.FinalRel}
		if p.Grad1Rel != nil {
			pr.Grad1Rel, pr.Grad1Norm = fmtG(*p.Grad1Rel), fmtG(*p.Grad1Norm)
		}
		params = append(params, pr)
	}
	return steps, control, params
}

// command is the command line that ran, as go run would take it.
func command(args []string) string {
	tags := ""
	if ops.BLAS() == "openblas" {
		tags = "-tags openblas "
	}
	return "go run " + tags + "./experiments/lockstep " + strings.Join(args, " ")
}

func fmtG(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }

// writeResults writes the files of -out, keeping the rows of dtypes this run did not run.
func writeResults(s settings, runs []dtypeRun, stdout io.Writer) error {
	ran := map[string]bool{}
	for _, r := range runs {
		ran[r.Dtype] = true
	}
	old, err := readOld(s.out, ran)
	if err != nil {
		return err
	}
	steps, control, params, runRows, ulps := old.steps, old.control, old.params, old.runs, old.ulps
	for _, r := range runs {
		st, ct, pr := r.rows()
		steps = append(steps, st...)
		control = append(control, ct...)
		ulps[r.Dtype] = r.NudgeUlps
		params = append(params, pr...)
		runRows = append(runRows, runRow{r.Dtype, s.Model, s.Data, r.Steps, s.Batch, s.Warmup, s.LR, r.GoSeconds, r.TorchSeconds,
			command(s.args)})
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Dtype < steps[j].Dtype })
	sort.SliceStable(control, func(i, j int) bool { return control[i].Dtype < control[j].Dtype })
	sort.SliceStable(params, func(i, j int) bool { return params[i].Dtype < params[j].Dtype })
	sort.SliceStable(runRows, func(i, j int) bool { return runRows[i].Dtype < runRows[j].Dtype })

	var lines [][]string
	for _, r := range steps {
		lines = append(lines, []string{r.Dtype, strconv.Itoa(r.Step), r.Quantity, fmtG(r.Go), fmtG(r.Torch), fmtG(r.Rel)})
	}
	if err := writeCSV(filepath.Join(s.out, "steps.csv"), stepsHeader, lines); err != nil {
		return err
	}
	lines = nil
	for _, r := range control {
		lines = append(lines, []string{r.Dtype, strconv.Itoa(r.Step), strconv.Itoa(ulps[r.Dtype]), fmtG(r.Go), fmtG(r.Torch), fmtG(r.Rel)})
	}
	if err := writeCSV(filepath.Join(s.out, "control.csv"), controlHeader, lines); err != nil {
		return err
	}
	lines = nil
	for _, r := range params {
		lines = append(lines, []string{r.Dtype, r.Name, r.Grad1Rel, r.Grad1Norm, fmtG(r.FinalRel)})
	}
	if err := writeCSV(filepath.Join(s.out, "params.csv"), paramsHeader, lines); err != nil {
		return err
	}
	lines = nil
	for _, r := range runRows {
		lines = append(lines, []string{r.Dtype, r.Model, r.Data, strconv.Itoa(r.Steps), strconv.Itoa(r.Batch), fmtG(r.LR),
			strconv.Itoa(r.Warmup), fmt.Sprintf("%.1f", r.GoSeconds), fmt.Sprintf("%.1f", r.TorchSecs), r.Command})
	}
	if err := writeCSV(filepath.Join(s.out, "runs.csv"), runsHeader, lines); err != nil {
		return err
	}
	if err := writeDerived(s.out, results{steps, control, params, runRows, ulps}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", s.out)
	return nil
}

// results are the rows of the CSV files.
type results struct {
	steps, control []stepRow
	params         []paramRow
	runs           []runRow
	ulps           map[string]int // the control's nudge, by dtype
}

// writeDerived writes what the CSV files determine: the figure and summary.md.
func writeDerived(out string, res results) error {
	if err := plotAll(filepath.Join(out, "lockstep.png"), res); err != nil {
		return err
	}
	return runlog.WriteFileAtomic(filepath.Join(out, summaryFile), []byte(summary(res)))
}

// replot redraws the figure and summary.md of the results in out from their CSV files.
func replot(out string) error {
	res, err := readOld(out, nil)
	if err != nil {
		return err
	}
	if len(res.runs) == 0 {
		return fmt.Errorf("%s holds no lock-step results (runs.csv)", out)
	}
	return writeDerived(out, res)
}

func writeCSV(path string, header []string, lines [][]string) error {
	return runlog.WriteAtomic(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write(header); err != nil {
			return err
		}
		if err := cw.WriteAll(lines); err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	})
}

// readCSV returns the lines of path after its header, nil when it does not exist.
func readCSV(path string, header []string) ([][]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	all, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(all) == 0 || strings.Join(all[0], ",") != strings.Join(header, ",") {
		return nil, fmt.Errorf("%s: not a lockstep file (header %v)", path, header)
	}
	return all[1:], nil
}

// readOld reads the rows of the previous results in out whose dtype is not in skip (control.csv
// may be missing: results from before the control).
func readOld(out string, skip map[string]bool) (results, error) {
	res := results{ulps: map[string]int{}}
	num := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
	lines, err := readCSV(filepath.Join(out, "steps.csv"), stepsHeader)
	if err != nil {
		return res, err
	}
	for _, l := range lines {
		if !skip[l[0]] {
			k, _ := strconv.Atoi(l[1])
			res.steps = append(res.steps, stepRow{l[0], k, l[2], num(l[3]), num(l[4]), num(l[5])})
		}
	}
	if lines, err = readCSV(filepath.Join(out, "control.csv"), controlHeader); err != nil {
		return res, err
	}
	for _, l := range lines {
		if !skip[l[0]] {
			k, _ := strconv.Atoi(l[1])
			u, _ := strconv.Atoi(l[2])
			res.control = append(res.control, stepRow{l[0], k, "loss", num(l[3]), num(l[4]), num(l[5])})
			res.ulps[l[0]] = u
		}
	}
	if lines, err = readCSV(filepath.Join(out, "params.csv"), paramsHeader); err != nil {
		return res, err
	}
	for _, l := range lines {
		if !skip[l[0]] {
			res.params = append(res.params, paramRow{l[0], l[1], l[2], l[3], num(l[4])})
		}
	}
	if lines, err = readCSV(filepath.Join(out, "runs.csv"), runsHeader); err != nil {
		return res, err
	}
	for _, l := range lines {
		if !skip[l[0]] {
			st, _ := strconv.Atoi(l[3])
			b, _ := strconv.Atoi(l[4])
			wu, _ := strconv.Atoi(l[6])
			res.runs = append(res.runs, runRow{l[0], l[1], l[2], st, b, wu, num(l[5]), num(l[7]), num(l[8]), l[9]})
		}
	}
	return res, nil
}

// series returns, for one dtype and quantity, the rows in step order.
func series(steps []stepRow, dtype, q string) []stepRow {
	var out []stepRow
	for _, r := range steps {
		if r.Dtype == dtype && r.Quantity == q {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Step < out[j].Step })
	return out
}

// firstAbove is the first step whose relative difference exceeds tol, or 0.
func firstAbove(rs []stepRow, tol float64) int {
	for _, r := range rs {
		if r.Rel > tol {
			return r.Step
		}
	}
	return 0
}

// medianRel is the median relative difference over steps lo…hi, NaN when none.
func medianRel(rs []stepRow, lo, hi int) float64 {
	var v []float64
	for _, r := range rs {
		if r.Step >= lo && r.Step <= hi {
			v = append(v, r.Rel)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// meanSigned is the mean of (go − torch)/|torch| over steps lo…hi: near 0 for rounding, which
// has no direction; a defect tends to push one side one way.
func meanSigned(rs []stepRow, lo, hi int) (mean float64, higher, n int) {
	for _, r := range rs {
		if r.Step >= lo && r.Step <= hi && r.Torch != 0 {
			mean += (r.Go - r.Torch) / math.Abs(r.Torch)
			if r.Go > r.Torch {
				higher++
			}
			n++
		}
	}
	if n == 0 {
		return math.NaN(), 0, 0
	}
	return mean / float64(n), higher, n
}

func dtypes(runs []runRow) []string {
	var out []string
	for _, r := range runs {
		out = append(out, r.Dtype)
	}
	return out
}

func quantities(steps []stepRow, dtype string) []string {
	seen := map[string]bool{}
	var qs []string
	for _, r := range steps {
		if r.Dtype == dtype && !seen[r.Quantity] && r.Quantity != "lr" {
			seen[r.Quantity] = true
			qs = append(qs, r.Quantity)
		}
	}
	sortQuantities(qs)
	return qs
}

func e(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	if v == 0 {
		return "0"
	}
	return fmt.Sprintf("%.1e", v)
}

func stepOrNever(k, n int) string {
	if k == 0 {
		return fmt.Sprintf("none of %d", n)
	}
	return strconv.Itoa(k)
}

// facts are the numbers the verdict rests on, for one dtype.
type facts struct {
	n                   int
	loss1, grad1Max     float64
	grad1MaxName        string
	split3, split2      int
	med10, med100, medN float64
	signed              float64
	higher, signedN     int
	finalMax            float64
	finalMaxName        string
	// the control (0 steps without one): its loss difference's first step above 1e-3 (0: none)
	ctrlSteps, ctrl3, ctrlUlps int
	ctrl1, ctrlMed10           float64
}

func factsOf(res results, dtype string, n int) facts {
	steps, params := res.steps, res.params
	loss := series(steps, dtype, "loss")
	f := facts{n: n, split3: firstAbove(loss, 1e-3), split2: firstAbove(loss, 1e-2),
		med10: medianRel(loss, 1, 10), med100: medianRel(loss, 11, 100), medN: medianRel(loss, 101, n)}
	if len(loss) > 0 {
		f.loss1 = loss[0].Rel
	}
	f.signed, f.higher, f.signedN = meanSigned(loss, 1, n)
	ctrl := series(res.control, dtype, "loss")
	f.ctrlSteps, f.ctrl3, f.ctrlMed10, f.ctrlUlps = len(ctrl), firstAbove(ctrl, 1e-3), medianRel(ctrl, 1, 10), res.ulps[dtype]
	if len(ctrl) > 0 {
		f.ctrl1 = ctrl[0].Rel
	}
	for _, p := range params {
		if p.Dtype != dtype {
			continue
		}
		if v, err := strconv.ParseFloat(p.Grad1Rel, 64); err == nil && v >= f.grad1Max {
			f.grad1Max, f.grad1MaxName = v, p.Name
		}
		if p.FinalRel >= f.finalMax {
			f.finalMax, f.finalMaxName = p.FinalRel, p.Name
		}
	}
	return f
}

func summary(res results) string {
	steps, runs := res.steps, res.runs
	var b strings.Builder
	if len(runs) == 0 {
		return ""
	}
	fmt.Fprintf(&b, "# Lock-step: %s in Go and in PyTorch, %s\n\n", runs[0].Model, runs[0].Data)
	fmt.Fprintf(&b, "Same initial weights (Go's, loaded into PyTorch's CIFARNet with strict=True), the same batches "+
		"(Go's loader: crops, flips, normalisation), SGD momentum 0.9, weight decay 1e-4 on every parameter, "+
		"lr %g after a %d-step linear warm-up, batch %d. Relative difference = |go − torch| / |torch| of each "+
		"quantity, recorded after the backward pass and before the update of each step.\n\n",
		runs[0].LR, runs[0].Warmup, runs[0].Batch)
	b.WriteString("| dtype | steps | Go wall time | PyTorch wall time | command |\n|---|---:|---:|---:|---|\n")
	for _, r := range runs {
		fmt.Fprintf(&b, "| %s | %d | %.0f s | %.0f s | `%s` |\n", r.Dtype, r.Steps, r.GoSeconds, r.TorchSecs, r.Command)
	}
	all := map[string]facts{}
	for _, r := range runs {
		f := factsOf(res, r.Dtype, r.Steps)
		all[r.Dtype] = f
		fmt.Fprintf(&b, "\n## %s\n\n", r.Dtype)
		fmt.Fprintf(&b, "Loss: first step with a relative difference above 1e-3: %s; above 1e-2: %s. "+
			"Mean signed (go − torch)/torch over all steps %s; Go higher on %d of %d steps.\n\n",
			stepOrNever(f.split3, r.Steps), stepOrNever(f.split2, r.Steps), fmt.Sprintf("%+.1e", f.signed), f.higher, f.signedN)
		b.WriteString("| quantity | step 1 | median, steps 1–10 | 11–100 | 101–N | first > 1e-3 | first > 1e-2 |\n|---|---:|---:|---:|---:|---:|---:|\n")
		for _, q := range quantities(steps, r.Dtype) {
			s := series(steps, r.Dtype, q)
			first := math.NaN()
			if len(s) > 0 {
				first = s[0].Rel
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", q, e(first), e(medianRel(s, 1, 10)), e(medianRel(s, 11, 100)),
				e(medianRel(s, 101, r.Steps)), stepOrNever(firstAbove(s, 1e-3), r.Steps), stepOrNever(firstAbove(s, 1e-2), r.Steps))
		}
		fmt.Fprintf(&b, "\nEvery parameter's gradient at step 1 (params.csv): largest relative difference %s (%s). "+
			"Every tensor after step %d: largest relative difference %s (%s).\n",
			e(f.grad1Max), f.grad1MaxName, r.Steps, e(f.finalMax), f.finalMaxName)
		if f.ctrlSteps > 0 {
			fmt.Fprintf(&b, "\nControl (control.csv): Go against Go started from the same weights moved by %s, on the same "+
				"batches, over %d steps: loss difference %s at step 1, first above 1e-3 at step %s (Go against PyTorch: %s at step 1, "+
				"first above 1e-3 at step %s); median %s over steps 1–10.\n",
				ulpsOf(f.ctrlUlps), f.ctrlSteps, e(f.ctrl1), stepOrNever(f.ctrl3, f.ctrlSteps), e(f.loss1), stepOrNever(f.split3, r.Steps), e(f.ctrlMed10))
		}
	}
	b.WriteString("\n## Verdict\n\n")
	b.WriteString(verdict(all))
	b.WriteString("\n")
	return b.String()
}

// verdict reads the facts: a defect splits the float64 run early; rounding starts at the
// precision's epsilon and takes longer to grow in float64 than in float32.
func verdict(all map[string]facts) string {
	f32, has32 := all["float32"]
	f64, has64 := all["float64"]
	var b strings.Builder
	if has32 {
		fmt.Fprintf(&b, "In float32 the step-1 losses differ by %s and the step-1 gradients by at most %s (%s), the size of "+
			"float32 rounding through a deep net; first step with a loss difference above 1e-3: %s. ",
			e(f32.loss1), e(f32.grad1Max), f32.grad1MaxName, stepOrNever(f32.split3, f32.n))
	}
	if !has64 {
		b.WriteString("Without a float64 run rounding cannot be told from a defect: run with -dtype float64.")
		return b.String()
	}
	fmt.Fprintf(&b, "In float64 the step-1 losses differ by %s and the step-1 gradients by at most %s (%s); "+
		"the loss difference has a median of %s over steps 1–10 and %s over 11–100; first step above 1e-3: %s. ",
		e(f64.loss1), e(f64.grad1Max), f64.grad1MaxName, e(f64.med10), e(f64.med100), stepOrNever(f64.split3, f64.n))
	if f64.ctrlSteps > 0 {
		return b.String() + controlVerdict(f32, has32, f64)
	}
	early := f64.loss1 > 1e-9 || f64.grad1Max > 1e-6 || f64.med10 > 1e-6 || (f64.split3 > 0 && f64.split3 <= 10)
	switch {
	case early:
		b.WriteString("**A defect**: float64 does not remove the difference at the first steps, so the two implementations " +
			"compute different things; params.csv names the parameters whose step-1 gradients differ most.")
	case has32 && f32.split3 > 0 && (f64.split3 == 0 || f64.split3 > f32.split3):
		fmt.Fprintf(&b, "**Rounding**: the two implementations agree to float64 rounding at the start and the float64 "+
			"trajectories separate later (%s) than the float32 ones (step %d), as a difference that starts at the "+
			"precision's epsilon and grows by the dynamics does; a defect would split both precisions alike, early.",
			stepOrNever(f64.split3, f64.n), f32.split3)
	case has32 && f32.split3 == 0 && f64.split3 == 0:
		b.WriteString("**Rounding**: neither precision separates beyond 1e-3 in the steps run, and float64 agrees to its rounding at the start.")
	default:
		b.WriteString("**Undecided**: float64 agrees at the start but does not separate later than float32; read steps.csv.")
	}
	return b.String()
}

// atStep says when a difference first exceeded 1e-3 (k, 0 for never) in n steps.
func atStep(k, n int) string {
	if k == 0 {
		return fmt.Sprintf("in none of the %d steps", n)
	}
	return fmt.Sprintf("at step %d", k)
}

// ulpsOf names a nudge: "one ulp", "100 ulps".
func ulpsOf(n int) string {
	if n == 1 {
		return "one ulp"
	}
	return fmt.Sprintf("%d ulps", n)
}

// controlSlack is how many steps before the control the Go–PyTorch split may come and still be
// rounding: the control's start (-nudge) only approximates the implementations' (their whole
// computation's rounding), and a step can amplify a difference 10–10⁵-fold.
const controlSlack = 2

// controlVerdict judges the float64 run against its control: rounding when Go and PyTorch agree
// to float64 rounding at the start and separate no earlier than Go separates from itself nudged
// by one ulp (less controlSlack steps); a defect when they differ at the start or part sooner.
func controlVerdict(f32 facts, has32 bool, f64 facts) string {
	ctrl := f64.ctrl3
	if ctrl == 0 {
		ctrl = f64.ctrlSteps + 1
	}
	atStart := f64.loss1 > 1e-9 || f64.grad1Max > 1e-6
	sooner := f64.split3 > 0 && f64.split3 < ctrl-controlSlack
	if atStart || sooner {
		what := "differ at the first step"
		if !atStart {
			what = "part at step " + strconv.Itoa(f64.split3)
		}
		return fmt.Sprintf("**A defect**: in float64 Go and PyTorch %s, where Go from weights %s apart parts from "+
			"itself %s: more than rounding; params.csv names the parameters whose step-1 gradients differ most.",
			what, ulpsOf(f64.ctrlUlps), atStep(f64.ctrl3, f64.ctrlSteps))
	}
	if f64.split3 == 0 && f64.ctrl3 == 0 {
		return fmt.Sprintf("**Rounding**: in float64 the two implementations agree to its rounding at the start, and in the "+
			"%d steps run neither they nor Go against itself from weights %s apart part beyond 1e-3.", f64.n, ulpsOf(f64.ctrlUlps))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Rounding**: in float64 the two implementations agree to its rounding at the start and part %s, "+
		"where Go started from weights %s apart parts from itself %s: this net and recipe amplify a rounding-size "+
		"difference that fast, and Go and PyTorch differ by no more than that",
		atStep(f64.split3, f64.n), ulpsOf(f64.ctrlUlps), atStep(f64.ctrl3, f64.ctrlSteps))
	if has32 && f32.split3 > 0 {
		fmt.Fprintf(&b, " (float32, whose rounding is 5·10⁸ times coarser, parts at step %d)", f32.split3)
	}
	b.WriteString(".")
	return b.String()
}

// plotAll draws lockstep.png: both sides' loss, and the relative differences of the loss and of
// the gradient norm, on log axes, one colour per precision.
func plotAll(path string, res results) error {
	steps, runs := res.steps, res.runs
	loss := runlog.Panel{Title: "training loss (solid: Go, dashed: PyTorch)", XLabel: "step", YLabel: "loss (log scale)", LogY: true}
	diff := runlog.Panel{Title: "relative difference |go − torch| / |torch|", XLabel: "step",
		YLabel: "relative difference (log scale)", LogY: true}
	for i, dt := range dtypes(runs) {
		line := func(rs []stepRow, val func(stepRow) float64, color int, dashed bool, name string) runlog.Line {
			l := runlog.Line{Name: name, Color: color, Dashed: dashed}
			for _, r := range rs {
				l.X, l.Y = append(l.X, float64(r.Step)), append(l.Y, val(r))
			}
			return l
		}
		goSide := func(r stepRow) float64 { return r.Go }
		torchSide := func(r stepRow) float64 { return r.Torch }
		rel := func(r stepRow) float64 { return r.Rel }
		ls := series(steps, dt, "loss")
		loss.Lines = append(loss.Lines, line(ls, goSide, 2*i, false, dt+" Go"), line(ls, torchSide, 2*i, true, dt+" PyTorch"))
		diff.Lines = append(diff.Lines, line(ls, rel, 2*i, false, dt+" loss"),
			line(series(steps, dt, "grad_norm"), rel, 2*i+1, true, dt+" gradient norm"))
		if ctrl := series(res.control, dt, "loss"); len(ctrl) > 0 {
			diff.Lines = append(diff.Lines, line(ctrl, rel, 4+i, false, fmt.Sprintf("%s loss, Go vs Go %s apart", dt, ulpsOf(res.ulps[dt]))))
		}
	}
	png, err := runlog.LinesPNG(fmt.Sprintf("Lock-step %s: Go vs PyTorch, same weights, batches and recipe", runs[0].Model),
		[]runlog.Panel{loss, diff}, 12*vg.Inch, 4.5*vg.Inch)
	if err != nil {
		return err
	}
	return runlog.WriteFileAtomic(path, png)
}
