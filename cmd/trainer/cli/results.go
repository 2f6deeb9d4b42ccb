package cli

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CheckResultsDir guards the output directory of an experiment program before it runs: results
// already in out (its file marker exists) are replaced only with overwrite, and a quick run
// (toy settings, for CI) never writes into the results committed under experiments/NAME/results*,
// even with overwrite, since its numbers would pass for the study's.
func CheckResultsDir(out, marker string, quick, overwrite bool) error {
	return CheckResultsFlag("-out", out, marker, quick, overwrite)
}

// CheckResultsFlag is CheckResultsDir for a program whose results directory is set by another
// flag than -out; flag names it in the errors.
func CheckResultsFlag(flag, out, marker string, quick, overwrite bool) error {
	if quick && committedResults(out) {
		return Usagef("%s %s holds the study's committed results; a -quick run writes elsewhere (e.g. %s build/quick)", flag, out, flag)
	}
	_, err := os.Stat(filepath.Join(out, marker))
	switch {
	case err == nil && !overwrite:
		return Usagef("%s %s already holds results (%s); pass -overwrite to replace them, or choose another %s", flag, out, marker, flag)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}
	return nil
}

// committedResults reports whether dir is an experiment's results directory in this repository:
// experiments/NAME/results or experiments/NAME/results-SUFFIX.
func committedResults(dir string) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	parent := filepath.Dir(abs)
	return strings.HasPrefix(filepath.Base(abs), "results") && filepath.Base(filepath.Dir(parent)) == "experiments"
}
