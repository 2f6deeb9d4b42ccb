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
	if quick && committedResults(out) {
		return Usagef("-out %s holds the study's committed results; a -quick run writes elsewhere (e.g. -out build/quick)", out)
	}
	_, err := os.Stat(filepath.Join(out, marker))
	switch {
	case err == nil && !overwrite:
		return Usagef("-out %s already holds results (%s); pass -overwrite to replace them, or choose another -out", out, marker)
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
