// Package cli holds the command-line conventions that the trainer and the experiment programs
// share, so that they cannot drift apart:
//
//   - flags may come before, between or after the positional arguments (`predict -checkpoint
//     DIR shoe.png -top 5`); "--" ends the flags;
//   - -h and -help print the usage and every flag to standard output and exit 0;
//   - bad usage (an unknown flag, a bad value, a missing argument) prints one line and exits 2;
//   - an interrupted run (Ctrl-C, SIGTERM) exits 130, as a shell reports SIGINT;
//   - any other failure prints one line and exits 1.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit statuses.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitInterrupted = 130 // 128 + SIGINT
)

// UsageError is bad input from the user: exit status 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return UsageError{fmt.Errorf(format, args...)}
}

// FlagSet is a flag.FlagSet with the shared conventions: errors are reported once, through
// Status, and -h prints the usage line and the flags to standard output.
type FlagSet struct {
	*flag.FlagSet
	usage string
}

// NewFlagSet returns a flag set for the command name; usage is the line -h prints, e.g.
// "trainer predict [flags] IMAGE...".
func NewFlagSet(name, usage string) *FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &FlagSet{FlagSet: fs, usage: usage}
}

// Given reports whether the flag called name was set on the command line, as opposed to keeping
// its default.
func (fs *FlagSet) Given(name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// Parse parses args with flags anywhere among the positional arguments, which it returns. With
// -h or -help it prints the usage and the flags to stdout and returns flag.ErrHelp; any other
// problem is a UsageError.
func (fs *FlagSet) Parse(args []string, stdout io.Writer) ([]string, error) {
	var pos []string
	for {
		if err := fs.FlagSet.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.PrintUsage(stdout)
				return nil, err
			}
			return nil, UsageError{fs.suggest(err)}
		}
		rest := fs.Args()
		// flag consumes a "--" that ends the flags: what follows is positional, even "-x".
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// ParseNoArgs is Parse for a command that takes flags only.
func (fs *FlagSet) ParseNoArgs(args []string, stdout io.Writer) error {
	pos, err := fs.Parse(args, stdout)
	if err == nil && len(pos) > 0 {
		err = Usagef("unexpected argument %q (%s takes flags only)", pos[0], fs.Name())
	}
	return err
}

// Preset sets the flags of values (name → value as typed on a command line) that the command line
// did not give: a mode's defaults (-quick) that explicit flags still override. Call it after
// parsing.
func (fs *FlagSet) Preset(values map[string]string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, v := range values {
		if given[name] {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return fmt.Errorf("preset -%s %s: %w", name, v, err)
		}
	}
	return nil
}

// PrintUsage prints the usage line and the flags to w.
func (fs *FlagSet) PrintUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n\nflags:\n", fs.usage)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// Status reports err on stderr as "prog: message" (one line) and returns the exit status.
func Status(prog string, err error, stderr io.Writer) int {
	var ue UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "%s: %s\n", prog, oneLine(err))
		return ExitInterrupted
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %s\n", prog, oneLine(err))
		return ExitUsage
	default:
		fmt.Fprintf(stderr, "%s: %s\n", prog, oneLine(err))
		return ExitFailure
	}
}

// oneLine keeps a message to one line, so that a log has one line per failure.
func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}

// suggest adds the closest defined flag to an "flag provided but not defined" error, as git
// does for a misspelt command: "-tpo" → "did you mean -top?".
func (fs *FlagSet) suggest(err error) error {
	const prefix = "flag provided but not defined: -"
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) {
		return err
	}
	bad := strings.TrimLeft(strings.TrimPrefix(msg, prefix), "-")
	best, bestD := "", 3 // farther than 2 edits is not a typo
	fs.VisitAll(func(f *flag.Flag) {
		if d := editDistance(bad, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	})
	if best == "" {
		return err
	}
	return fmt.Errorf("%w (did you mean -%s?)", err, best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
