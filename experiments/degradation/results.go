package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/graph/ops"
	"github.com/resnet-go/resnet/resnet"
	"github.com/resnet-go/resnet/train/runlog"
)

// Files written into -out.
const (
	curvesFile  = "curves.csv"
	summaryFile = "summary.json"
	tableFile   = "table.md"
	figureFile  = "degradation.png"
)

// meanOver is how many final epochs the claims average the training error over: one epoch's
// error is noisy, especially on a few hundred images.
const meanOver = 3

// netResult is one trained net in the summary.
type netResult struct {
	Model  string `json:"model"`
	Name   string `json:"name"` // as the paper's legends: plain-20, ResNet-20
	Depth  int    `json:"depth"`
	Plain  bool   `json:"plain"`
	Params int    `json:"params"`

	FinalTrainErr float64 `json:"final_train_error"` // fractions, of the last epoch
	FinalTestErr  float64 `json:"final_test_error"`
	BestTestErr   float64 `json:"best_test_error"`
	BestTestEpoch int     `json:"best_test_epoch"`
	// Means over the last MeanOverEpochs epochs of the summary.
	MeanTrainErr float64 `json:"mean_train_error_last"`
	MeanTestErr  float64 `json:"mean_test_error_last"`

	WallSec float64 `json:"wall_s"` // training and evaluation, summed over resumed segments
	Reused  bool    `json:"reused"` // read from a finished run rather than trained now
	Dir     string  `json:"run_dir"`

	records []runlog.Record
}

// displayName is the net as the paper's figures name it.
func displayName(depth int, plain bool) string {
	if plain {
		return fmt.Sprintf("plain-%d", depth)
	}
	return fmt.Sprintf("ResNet-%d", depth)
}

func newNetResult(p *netPlan, params int, recs []runlog.Record) netResult {
	last := recs[len(recs)-1]
	r := netResult{Model: p.model, Name: displayName(p.depth, p.plain), Depth: p.depth, Plain: p.plain, Params: params,
		FinalTrainErr: last.TrainErr, FinalTestErr: last.TestErr, BestTestErr: math.Inf(1),
		WallSec: last.WallSec, Reused: p.action == reuse, Dir: p.dir, records: recs}
	for _, rec := range recs {
		if rec.TestErr < r.BestTestErr {
			r.BestTestErr, r.BestTestEpoch = rec.TestErr, rec.Epoch
		}
	}
	tail := recs[len(recs)-min(meanOver, len(recs)):]
	for _, rec := range tail {
		r.MeanTrainErr += rec.TrainErr / float64(len(tail))
		r.MeanTestErr += rec.TestErr / float64(len(tail))
	}
	return r
}

// countParams counts the trainable parameters of model by building it once, for a batch of one.
func countParams(model string, di dataInfo) (int, error) {
	spec, err := resnet.ByName(model, di.classes, di.c)
	if err != nil {
		return 0, err
	}
	p, err := graph.NewParams(tensor.Float32, 1)
	if err != nil {
		return 0, err
	}
	sum, err := resnet.Summarize(spec, p, di.h, di.w)
	if err != nil {
		return 0, fmt.Errorf("counting the parameters of %s: %w", model, err)
	}
	return sum.Params, nil
}

// summary is summary.json.
type summary struct {
	Experiment string      `json:"experiment"`
	Settings   settingsDoc `json:"settings"`
	Machine    machineDoc  `json:"machine"`
	Nets       []netResult `json:"nets"`
	// The claims compare the mean training error over this many final epochs (holds); the
	// final epoch alone is given too (holds_final_epoch).
	MeanOverEpochs int     `json:"mean_over_last_epochs"`
	Claims         []claim `json:"claims"`
}

type settingsDoc struct {
	Data          string    `json:"data"`
	DataDir       string    `json:"data_dir,omitempty"`
	TrainExamples int       `json:"train_examples"`
	TestExamples  int       `json:"test_examples"`
	Input         [3]int    `json:"input"` // C, H, W
	Classes       int       `json:"classes"`
	Depths        []int     `json:"depths"`
	Epochs        int       `json:"epochs"`
	Quick         bool      `json:"quick"`
	Recipe        recipeDoc `json:"recipe"`
}

// recipeDoc is the training recipe shared by every net.
type recipeDoc struct {
	Batch        int       `json:"batch"`
	LR           float64   `json:"lr"`
	Schedule     string    `json:"schedule"`
	Milestones   []float64 `json:"milestones"`
	Gamma        float64   `json:"gamma"`
	WarmupEpochs float64   `json:"warmup_epochs"`
	Momentum     float64   `json:"momentum"`
	Nesterov     bool      `json:"nesterov"`
	WeightDecay  float64   `json:"weight_decay"`
	NoDecay1D    bool      `json:"no_decay_1d"`
	Pad          int       `json:"pad"`
	Flip         bool      `json:"flip"`
	Normalize    bool      `json:"normalize"`
	Seed         int64     `json:"seed"`
	Dtype        string    `json:"dtype"`
}

type machineDoc struct {
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Workers    int    `json:"workers"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	GoVersion  string `json:"go_version"`
	BLAS       string `json:"blas"`
}

// claim is one of the paper's statements, evaluated on this run.
type claim struct {
	ID        string `json:"id"`
	Statement string `json:"statement"`
	// Holds is the verdict on the mean training error over the last epochs; HoldsFinalEpoch the
	// same comparison on the last epoch alone.
	Holds           bool      `json:"holds"`
	HoldsFinalEpoch bool      `json:"holds_final_epoch"`
	A               claimSide `json:"a"` // the subject of the statement
	B               claimSide `json:"b"` // what it is compared with
}

type claimSide struct {
	Net           string  `json:"net"`
	MeanTrainErr  float64 `json:"mean_train_error_last"`
	FinalTrainErr float64 `json:"final_train_error"`
}

// relation is how a claim compares A's training error with B's.
type relation struct {
	words string
	holds func(a, b float64) bool
}

var (
	higher   = relation{"a higher training error than", func(a, b float64) bool { return a > b }}
	lower    = relation{"a lower training error than", func(a, b float64) bool { return a < b }}
	noHigher = relation{"a training error no higher than", func(a, b float64) bool { return a <= b }}
)

func newClaim(id string, a netResult, rel relation, b netResult) claim {
	return claim{
		ID:              id,
		Statement:       fmt.Sprintf("%s has %s %s", a.Name, rel.words, b.Name),
		Holds:           rel.holds(a.MeanTrainErr, b.MeanTrainErr),
		HoldsFinalEpoch: rel.holds(a.FinalTrainErr, b.FinalTrainErr),
		A:               claimSide{a.Name, a.MeanTrainErr, a.FinalTrainErr},
		B:               claimSide{b.Name, b.MeanTrainErr, b.FinalTrainErr},
	}
}

func newSummary(s settings, di dataInfo, nets []netResult) summary {
	cfg := config(s, "")
	find := func(depth int, plain bool) netResult {
		for _, n := range nets {
			if n.Depth == depth && n.Plain == plain {
				return n
			}
		}
		panic(fmt.Sprintf("no result for depth %d plain %v", depth, plain)) // every plan has one
	}
	shallow, deep := s.depths[0], s.depths[len(s.depths)-1]
	return summary{
		Experiment: "degradation: plain nets vs ResNets of the same depths (He et al. 2016, Fig. 6)",
		Settings: settingsDoc{
			Data: s.data, DataDir: s.dataDir, TrainExamples: di.trainN, TestExamples: di.testN,
			Input: [3]int{di.c, di.h, di.w}, Classes: di.classes, Depths: s.depths, Epochs: s.epochs, Quick: s.quick,
			Recipe: recipeDoc{Batch: cfg.Batch, LR: cfg.LR, Schedule: cfg.Schedule, Milestones: cfg.Milestones,
				Gamma: cfg.Gamma, WarmupEpochs: cfg.WarmupEpochs, Momentum: cfg.Momentum, Nesterov: cfg.Nesterov,
				WeightDecay: cfg.WeightDecay, NoDecay1D: cfg.NoDecay1D, Pad: cfg.Pad, Flip: cfg.Flip,
				Normalize: cfg.Normalize, Seed: cfg.Seed, Dtype: cfg.Dtype},
		},
		Machine: machineDoc{NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Workers: ops.Workers(),
			GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, GoVersion: runtime.Version(), BLAS: ops.BLAS()},
		Nets:           nets,
		MeanOverEpochs: min(meanOver, s.epochs),
		Claims: []claim{
			newClaim("degradation", find(deep, true), higher, find(shallow, true)),
			newClaim("resnet_beats_plain", find(deep, false), lower, find(deep, true)),
			newClaim("resnet_gains_from_depth", find(deep, false), noHigher, find(shallow, false)),
		},
	}
}

// writeResults writes the four result files into dir.
func writeResults(dir string, sum summary) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", summaryFile, err)
	}
	fig, err := plotDegradation(sum)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{curvesFile, sum.curvesCSV()},
		{summaryFile, append(js, '\n')},
		{tableFile, []byte(sum.markdown())},
		{figureFile, fig},
	} {
		if err := runlog.WriteFileAtomic(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

// curvesHeader is the first line of curves.csv.
const curvesHeader = "model,depth,plain,epoch,train_error,test_error,train_loss,test_loss,epoch_s"

// curvesCSV is one row per net per epoch, errors as fractions.
func (s summary) curvesCSV() []byte {
	var b bytes.Buffer
	b.WriteString(curvesHeader + "\n")
	f := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	for _, n := range s.Nets {
		for _, r := range n.records {
			fmt.Fprintf(&b, "%s,%d,%t,%d,%s,%s,%s,%s,%s\n", n.Model, n.Depth, n.Plain, r.Epoch,
				f(r.TrainErr), f(r.TestErr), f(r.TrainLoss), f(r.TestLoss), f(r.EpochSec))
		}
	}
	return b.Bytes()
}

// markdown is table.md: the final errors and the claims with their numbers.
func (s summary) markdown() string {
	var b strings.Builder
	st := s.Settings
	fmt.Fprintf(&b, "# Degradation: plain nets vs ResNets on %s\n\n", st.Data)
	warmup := fmt.Sprintf("%g warm-up epochs", st.Recipe.WarmupEpochs)
	if st.Recipe.WarmupEpochs == 1 {
		warmup = "1 warm-up epoch"
	}
	fmt.Fprintf(&b, "%d training and %d test images of %d×%d×%d, %s; SGD batch %d, lr %g (÷10 at 50%% and 75%% of the run, %s), momentum %g, weight decay %g, pad %d + flip; seed %d. %s, %d CPUs, BLAS %s.\n\n",
		st.TrainExamples, st.TestExamples, st.Input[0], st.Input[1], st.Input[2], plural(st.Epochs, "epoch"), st.Recipe.Batch,
		st.Recipe.LR, warmup, st.Recipe.Momentum, st.Recipe.WeightDecay, st.Recipe.Pad, st.Recipe.Seed,
		s.Machine.GOARCH, s.Machine.NumCPU, s.Machine.BLAS)
	b.WriteString("| net | params | final train err % | final test err % | best test err % | wall time |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|\n")
	for _, n := range s.Nets {
		fmt.Fprintf(&b, "| %s | %s | %.2f | %.2f | %.2f (epoch %d) | %s |\n", n.Name, thousands(n.Params),
			100*n.FinalTrainErr, 100*n.FinalTestErr, 100*n.BestTestErr, n.BestTestEpoch, wallTime(n.WallSec))
	}
	fmt.Fprintf(&b, "\nTraining error is that of the epoch's augmented batches in training mode, as in the paper's curves. "+
		"Claims on the mean training error over the last %s (the last epoch alone in brackets):\n\n", plural(s.MeanOverEpochs, "epoch"))
	for _, c := range s.Claims {
		verdict := func(h bool) string {
			if h {
				return "holds"
			}
			return "does not hold"
		}
		fmt.Fprintf(&b, "- %s: **%s** (%s %.2f%% vs %s %.2f%%; last epoch %.2f%% vs %.2f%%, %s)\n",
			c.Statement, verdict(c.Holds), c.A.Net, 100*c.A.MeanTrainErr, c.B.Net, 100*c.B.MeanTrainErr,
			100*c.A.FinalTrainErr, 100*c.B.FinalTrainErr, verdict(c.HoldsFinalEpoch))
	}
	return b.String()
}

// thousands writes n with comma separators, as 270,410.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// wallTime is seconds to a tenth under a minute, whole seconds above.
func wallTime(sec float64) string {
	if sec < 60 {
		return fmt.Sprintf("%.1f s", sec)
	}
	return time.Duration(sec * float64(time.Second)).Round(time.Second).String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// replot redraws the figure of finished results in dir from their own numbers: summary.json for
// the settings and nets, curves.csv for the curves.
func replot(dir string) error {
	var sum summary
	path := filepath.Join(dir, summaryFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	path = filepath.Join(dir, curvesFile)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) == 0 || !slices.Equal(rows[0], strings.Split(curvesHeader, ",")) {
		return fmt.Errorf("%s: not the curves of a degradation study (want the header %s)", path, curvesHeader)
	}
	num := func(s string) float64 {
		if s == "" {
			return math.NaN()
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return math.NaN()
		}
		return v
	}
	for i, r := range rows[1:] {
		epoch, err := strconv.Atoi(r[3])
		if err != nil {
			return fmt.Errorf("%s: line %d: epoch %q", path, i+2, r[3])
		}
		j := slices.IndexFunc(sum.Nets, func(n netResult) bool { return n.Model == r[0] })
		if j < 0 {
			return fmt.Errorf("%s: line %d: net %q is not in %s", path, i+2, r[0], summaryFile)
		}
		rec := runlog.NewRecord(epoch, 0)
		rec.TrainErr, rec.TestErr, rec.TrainLoss, rec.TestLoss, rec.EpochSec = num(r[4]), num(r[5]), num(r[6]), num(r[7]), num(r[8])
		sum.Nets[j].records = append(sum.Nets[j].records, rec)
	}
	fig, err := plotDegradation(sum)
	if err != nil {
		return err
	}
	return runlog.WriteFileAtomic(filepath.Join(dir, figureFile), fig)
}
