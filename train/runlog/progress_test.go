package runlog

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newFake() *fakeClock { return &fakeClock{t: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)} }

func TestProgressPlain(t *testing.T) {
	tests := []struct {
		name      string
		every     time.Duration
		step      time.Duration // clock advance per batch
		batches   int
		wantLines []string
	}{
		{"short epoch prints nothing", 30 * time.Second, 100 * time.Millisecond, 100, nil},
		{"long epoch prints every 30 s and at the end", 30 * time.Second, 10 * time.Second, 10, []string{
			"epoch 1/5  3/10 (30%)  loss 2.0000  elapsed 0:30 eta 1:10",
			"epoch 1/5  6/10 (60%)  loss 2.0000  elapsed 1:00 eta 0:40",
			"epoch 1/5  9/10 (90%)  loss 2.0000  elapsed 1:30 eta 0:10",
			"epoch 1/5  10/10 (100%)  loss 2.0000  elapsed 1:40 eta 0:00",
		}},
		{"interval is configurable", 250 * time.Millisecond, 100 * time.Millisecond, 6, []string{
			"epoch 1/5  3/6 (50%)  loss 2.0000  elapsed 0:00 eta 0:00",
			"epoch 1/5  6/6 (100%)  loss 2.0000  elapsed 0:01 eta 0:00",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			clk := newFake()
			p := newProgress(&out, "epoch 1/5", tc.batches, false, clk.now)
			p.Every = tc.every
			for i := 1; i <= tc.batches; i++ {
				clk.t = clk.t.Add(tc.step)
				p.Update(i, 2)
			}
			p.Done()
			p.Done() // a second Done prints nothing more
			assert.NotContains(t, out.String(), "\r")
			var lines []string
			if s := out.String(); s != "" {
				lines = strings.Split(strings.TrimSuffix(s, "\n"), "\n")
			}
			assert.Equal(t, tc.wantLines, lines)
		})
	}
}

func TestProgressTerminal(t *testing.T) {
	var out bytes.Buffer
	clk := newFake()
	p := newProgress(&out, "ep", 20, true, clk.now)
	for i := 1; i <= 20; i++ {
		clk.t = clk.t.Add(30 * time.Millisecond)
		p.Update(i, float64(i)) // mean loss after i batches is (i+1)/2
	}
	p.Done()
	s := out.String()
	require.True(t, strings.HasSuffix(s, "\n"))
	assert.Equal(t, 1, strings.Count(s, "\n"), "one line, redrawn in place")
	// Drawn at batch 1 (30 ms), then whenever 100 ms have passed (batches 5, 9, 13, 17), then by Done.
	assert.Equal(t, 6, strings.Count(s, "\r"))
	frames := strings.Split(strings.TrimSuffix(s, "\n"), "\r")[1:]
	assert.Equal(t, "ep [========================>     ] 17/20  loss 9.0000  0:01 eta 0:00",
		strings.TrimRight(frames[4], " "))
	assert.Equal(t, "ep [==============================] 20/20  loss 10.5000  0:01 eta 0:00", frames[5])
}

func TestProgressPadsShorterLine(t *testing.T) {
	var out bytes.Buffer
	clk := newFake()
	p := newProgress(&out, "ep", 10, true, clk.now)
	p.Update(1, 123456.5)
	clk.t = clk.t.Add(time.Second)
	p.Update(2, -123456.5) // mean 0: a shorter loss field
	frames := strings.Split(out.String(), "\r")[1:]
	require.Len(t, frames, 2)
	assert.Equal(t, len(frames[0]), len(frames[1]), "the shorter line blanks what the longer one left")
}

func TestProgressFormat(t *testing.T) {
	tests := []struct {
		name     string
		total    int
		done     int
		losses   []float64
		elapsed  time.Duration
		wantBar  string
		wantLine string
	}{
		{"before the first batch", 390, 0, nil, 0,
			"epoch 3/200 [                              ]   0/390  loss --  0:00 eta --:--",
			"epoch 3/200  0/390 (0%)  loss --  elapsed 0:00 eta --:--"},
		{"a third of the way", 390, 130, []float64{1, 2}, 42 * time.Second,
			"epoch 3/200 [=========>                    ] 130/390  loss 1.5000  0:42 eta 1:24",
			"epoch 3/200  130/390 (33%)  loss 1.5000  elapsed 0:42 eta 1:24"},
		{"over an hour left", 390, 1, []float64{2.3}, 30 * time.Second,
			"epoch 3/200 [                              ]   1/390  loss 2.3000  0:30 eta 3:14:30",
			"epoch 3/200  1/390 (0%)  loss 2.3000  elapsed 0:30 eta 3:14:30"},
		{"unknown total", 0, 7, []float64{1}, 5 * time.Second,
			"epoch 3/200 [                              ] 7/0  loss 1.0000  0:05 eta --:--",
			"epoch 3/200  7/0  loss 1.0000  elapsed 0:05 eta --:--"},
		{"past the total", 10, 12, []float64{1}, 5 * time.Second,
			"epoch 3/200 [==============================] 12/10  loss 1.0000  0:05 eta 0:00",
			"epoch 3/200  12/10 (100%)  loss 1.0000  elapsed 0:05 eta 0:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFake()
			p := newProgress(&bytes.Buffer{}, "epoch 3/200", tc.total, false, clk.now)
			p.Every, p.Columns = time.Hour, 120
			for _, l := range tc.losses {
				p.Update(tc.done, l)
			}
			p.done = tc.done
			at := clk.t.Add(tc.elapsed)
			assert.Equal(t, tc.wantBar, p.format(at, true))
			assert.Equal(t, tc.wantLine, p.format(at, false))
		})
	}
}

// Terminal lines fit the terminal (the bar shrinks, then goes), and show the run's ETA when the
// caller knows the time after this epoch.
func TestProgressFitsTheTerminal(t *testing.T) {
	clk := newFake()
	p := newProgress(&bytes.Buffer{}, "epoch 3/200", 390, true, clk.now)
	p.Update(130, 1.5)
	at := clk.t.Add(42 * time.Second)
	for _, tc := range []struct {
		cols int
		want string
	}{
		{120, "epoch 3/200 [=========>                    ] 130/390  loss 1.5000  0:42 eta 1:24"},
		{80, "epoch 3/200 [========>                    ] 130/390  loss 1.5000  0:42 eta 1:24"}, // 79 columns
		{70, "epoch 3/200 [=====>             ] 130/390  loss 1.5000  0:42 eta 1:24"},
		{60, "epoch 3/200 [==>      ] 130/390  loss 1.5000  0:42 eta 1:24"},
		{50, "epoch 3/200 130/390 loss 1.5000 eta 1:24"},
		{20, "epoch 3/200 130/390"},
		{0, "epoch 3/200 [========>                    ] 130/390  loss 1.5000  0:42 eta 1:24"}, // unknown: 80
	} {
		p.Columns = tc.cols
		line := p.format(at, true)
		assert.Equal(t, tc.want, line, "%d columns", tc.cols)
		if tc.cols > 0 {
			assert.Less(t, len([]rune(line)), tc.cols, "%d columns: no wrap", tc.cols)
		}
	}
	p.Columns, p.After = 120, 2*time.Hour
	assert.Equal(t, "epoch 3/200 [=========>                    ] 130/390  loss 1.5000  0:42 eta 1:24 (run 2:01:24)", p.format(at, true))
	assert.Equal(t, "epoch 3/200  130/390 (33%)  loss 1.5000  elapsed 0:42 eta 1:24 (run 2:01:24)", p.format(at, false))
}

func TestETAAndClock(t *testing.T) {
	tests := []struct {
		elapsed     time.Duration
		done, total int
		want        string
	}{
		{10 * time.Second, 1, 10, "1:30"},
		{10 * time.Second, 5, 10, "0:10"},
		{1500 * time.Millisecond, 1, 2, "0:02"}, // rounds to the second
		{time.Minute, 1, 61, "1:00:00"},
		{time.Minute, 10, 10, "0:00"},
		{time.Minute, 0, 10, "--:--"},
		{time.Minute, 3, 0, "--:--"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, eta(tc.elapsed, tc.done, tc.total), "%v %d/%d", tc.elapsed, tc.done, tc.total)
	}
	assert.Equal(t, "0:00", clock(-time.Second))
	assert.Equal(t, "26:40:00", clock(96000*time.Second))
}

func TestNewProgressDetectsNonTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log.txt"))
	require.NoError(t, err)
	defer f.Close()
	tests := []struct {
		name string
		w    *Progress
	}{
		{"buffer", NewProgress(&bytes.Buffer{}, "x", 1)},
		{"regular file", NewProgress(f, "x", 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.False(t, tc.w.tty)
			assert.Equal(t, DefaultEvery, tc.w.Every)
		})
	}
}

// Vanish leaves nothing on a terminal (the evaluation's progress before the epoch's summary) and
// behaves as Done in a log.
func TestProgressVanish(t *testing.T) {
	var out bytes.Buffer
	clk := newFake()
	p := newProgress(&out, "epoch 1/3 test", 4, true, clk.now)
	for i := 1; i <= 4; i++ {
		clk.t = clk.t.Add(150 * time.Millisecond)
		p.Update(i, 0.5)
	}
	p.Vanish()
	p.Update(4, 1) // ignored once ended
	s := out.String()
	assert.NotContains(t, s, "\n")
	last := s[strings.LastIndex(strings.TrimSuffix(s, "\r"), "\r")+1:]
	assert.Equal(t, strings.Repeat(" ", len([]rune(last))-1)+"\r", last, "the line blanked: %q", s)
	assert.Contains(t, s, "epoch 1/3 test [")

	out.Reset()
	p = newProgress(&out, "eval", 4, false, clk.now)
	p.Update(1, 0.5)
	p.Vanish()
	assert.Empty(t, out.String(), "a short evaluation leaves no line in a log")
}
