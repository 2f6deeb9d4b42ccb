package runlog

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

const (
	// redrawEvery limits terminal redraws: faster is flicker and wasted writes.
	redrawEvery = 100 * time.Millisecond
	// DefaultEvery is how often NewProgress prints a plain line when w is not a terminal: often
	// enough to see that a run is alive, rarely enough to keep a log file readable.
	DefaultEvery = 30 * time.Second
	barWidth     = 30
)

// Progress shows progress within an epoch on w. On a terminal it redraws one line in place (with
// "\r"), at most every 100 ms; otherwise, as in a log file, it prints a plain line at most every
// Every and never writes "\r". Write errors are ignored: the display must never stop training.
type Progress struct {
	// Every is the least time between two plain lines when w is not a terminal.
	Every time.Duration

	w     io.Writer
	label string
	total int
	tty   bool
	now   func() time.Time

	start    time.Time
	last     time.Time // of the last line drawn or printed
	drawn    bool      // a line has been drawn or printed
	dirty    bool      // there was an Update since the last line
	done     int
	lossSum  float64
	updates  int
	finished bool
	width    int // length of the last terminal line, to blank what a shorter one leaves

	// Columns is the terminal's width (0: unknown, 80 assumed): terminal lines are fitted to it,
	// the bar shrinking first, so that they never wrap.
	Columns int
	// After is the time the run is expected to take after this epoch (its later epochs and
	// evaluations, from the epochs so far); when set, lines end with the run's ETA too.
	After time.Duration
}

// NewProgress starts the display of an epoch of total batches (or images) labelled label, for
// example "epoch 3/200".
func NewProgress(w io.Writer, label string, total int) *Progress {
	return newProgress(w, label, total, isTerminal(w), time.Now)
}

// newProgress is NewProgress with the terminal test and the clock given, for tests.
func newProgress(w io.Writer, label string, total int, tty bool, now func() time.Time) *Progress {
	t := now()
	p := &Progress{Every: DefaultEvery, w: w, label: label, total: total, tty: tty, now: now, start: t, last: t}
	if tty {
		p.Columns = terminalColumns(w)
	}
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Update records that done of total are done, the last batch having loss loss; the display shows
// the mean of the losses given so far in the epoch, which is steadier than one batch's loss.
func (p *Progress) Update(done int, loss float64) {
	if p.finished {
		return
	}
	p.done = done
	p.lossSum += loss
	p.updates++
	p.dirty = true
	t := p.now()
	if p.tty {
		if !p.drawn || t.Sub(p.last) >= redrawEvery {
			p.redraw(t)
		}
		return
	}
	if t.Sub(p.last) >= p.Every {
		p.println(t)
	}
}

// Done ends the display of the epoch. On a terminal it draws the final state and ends the line. In
// a log it prints a final line only if the epoch already printed one and has progressed since, so
// that short epochs leave no progress lines at all (the caller logs its own epoch summary).
func (p *Progress) Done() {
	if p.finished {
		return
	}
	p.finished = true
	t := p.now()
	if p.tty {
		p.redraw(t)
		io.WriteString(p.w, "\n")
		return
	}
	if p.drawn && p.dirty {
		p.println(t)
	}
}

// Vanish ends the display leaving no trace on a terminal (the line is blanked, for a progress
// that precedes a summary line, such as an evaluation's); in a log it is Done.
func (p *Progress) Vanish() {
	if p.finished || !p.tty {
		p.Done()
		return
	}
	p.finished = true
	if p.drawn {
		io.WriteString(p.w, "\r"+strings.Repeat(" ", p.width)+"\r")
	}
}

func (p *Progress) redraw(t time.Time) {
	line := p.format(t, true)
	pad := ""
	if n := len([]rune(line)); n < p.width {
		pad = strings.Repeat(" ", p.width-n)
	}
	p.width = len([]rune(line))
	io.WriteString(p.w, "\r"+line+pad)
	p.drawn, p.dirty, p.last = true, false, t
}

func (p *Progress) println(t time.Time) {
	io.WriteString(p.w, p.format(t, false)+"\n")
	p.drawn, p.dirty, p.last = true, false, t
}

// format is the progress line at time t, with a bar on a terminal (fitted to Columns):
//
//	epoch 3/200 [=========>                    ]  123/390  loss 1.2345  0:42 eta 1:31 (run 2:41:05)
//	epoch 3/200  123/390 (32%)  loss 1.2345  elapsed 0:42 eta 1:31 (run 2:41:05)
func (p *Progress) format(t time.Time, bar bool) string {
	elapsed := t.Sub(p.start)
	loss := "--" // nothing measured yet (a run stopped before its first batch), not NaN
	if p.updates > 0 {
		loss = fmt.Sprintf("%.4f", p.lossSum/float64(p.updates))
	}
	eta := eta(elapsed, p.done, p.total)
	if p.After > 0 && p.done > 0 {
		left := time.Duration(float64(elapsed)/float64(p.done)*float64(max(p.total-p.done, 0))) + p.After
		eta += " (run " + clock(left) + ")"
	}
	if bar {
		tail := fmt.Sprintf("] %*d/%d  loss %s  %s eta %s", len(fmt.Sprint(p.total)), p.done, p.total, loss, clock(elapsed), eta)
		cols := p.Columns
		if cols <= 0 {
			cols = 80
		}
		// Keep one column free: a line that fills the terminal exactly wraps on some terminals.
		room := cols - 1 - len([]rune(p.label)) - 2 - len([]rune(tail))
		if room >= 5 {
			return p.label + " [" + progressBar(p.done, p.total, min(room, barWidth)) + tail
		}
		line := fmt.Sprintf("%s %d/%d loss %s eta %s", p.label, p.done, p.total, loss, eta)
		if r := []rune(line); len(r) > cols-1 {
			line = string(r[:max(cols-1, 1)])
		}
		return line
	}
	pct := ""
	if p.total > 0 {
		pct = fmt.Sprintf(" (%d%%)", 100*min(max(p.done, 0), p.total)/p.total)
	}
	return fmt.Sprintf("%s  %d/%d%s  loss %s  elapsed %s eta %s", p.label, p.done, p.total, pct, loss, clock(elapsed), eta)
}

// progressBar is a bar of width characters filled in proportion to done/total.
func progressBar(done, total, width int) string {
	fill := 0
	if total > 0 {
		fill = width * min(max(done, 0), total) / total
	}
	if fill >= width {
		return strings.Repeat("=", width)
	}
	if fill == 0 {
		return strings.Repeat(" ", width)
	}
	return strings.Repeat("=", fill-1) + ">" + strings.Repeat(" ", width-fill)
}

// eta estimates the time left from the mean time per unit done so far, or "--:--" before there is
// anything to estimate from.
func eta(elapsed time.Duration, done, total int) string {
	if done <= 0 || total <= 0 {
		return "--:--"
	}
	if done >= total {
		return clock(0)
	}
	left := time.Duration(float64(elapsed) / float64(done) * float64(total-done))
	return clock(left)
}

// clock formats d as m:ss, or h:mm:ss from an hour, rounding to the second.
func clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s < 0 {
		s = 0
	}
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
