package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
)

// The gradient-accumulation flag: refused settings name the flag, and a run says how it splits
// its batches.
func TestTrainAccumulate(t *testing.T) {
	run := []string{"-model", "resnet8", "-data", "synthetic", "-train-limit", "64", "-test-limit", "32",
		"-epochs", "1", "-batch", "32", "-eval-batch", "32", "-workers", "1", "-quiet"}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in stdout when code is 0, in stderr otherwise
	}{
		{"negative", []string{"-accumulate", "-1"}, cli.ExitUsage, "-accumulate -1: want 1 (whole batches) or more micro-batches"},
		{"not a divisor", []string{"-accumulate", "3"}, cli.ExitFailure, "-batch 32 does not split into 3 equal parts (1 rank × 3 micro-batches): choose a batch divisible by 3"},
		{"with the probe", []string{"-accumulate", "2", "-probe", "1"}, cli.ExitUsage, "-probe needs whole batches: drop -accumulate and -dist"},
		{"two micro-batches", []string{"-accumulate", "2"}, cli.ExitOK, "gradient accumulation over 2 micro-batches of 16\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"train", "-out", filepath.Join(t.TempDir(), "run")}, run...), tc.args...)
			code, stdout, stderr := runCLI(args...)
			assert.Equal(t, tc.code, code, stderr)
			if tc.code == cli.ExitOK {
				assert.Contains(t, stdout, tc.want)
			} else {
				assert.Contains(t, stderr, tc.want)
			}
		})
	}
}
