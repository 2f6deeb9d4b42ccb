package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		pos   []string
		top   int
		quiet bool
	}{
		{"flags first", []string{"-top", "5", "a.png", "b.png"}, []string{"a.png", "b.png"}, 5, false},
		{"flags after the files", []string{"a.png", "-top", "5", "b.png", "-quiet"}, []string{"a.png", "b.png"}, 5, true},
		{"no flags", []string{"a.png"}, []string{"a.png"}, 3, false},
		{"-- ends the flags", []string{"-quiet", "--", "-top", "x"}, []string{"-top", "x"}, 3, true},
		{"nothing", nil, nil, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := NewFlagSet("predict", "trainer predict [flags] IMAGE...")
			top := fs.Int("top", 3, "classes")
			quiet := fs.Bool("quiet", false, "quiet")
			pos, err := fs.Parse(tc.args, nil)
			require.NoError(t, err)
			assert.Equal(t, tc.pos, pos)
			assert.Equal(t, tc.top, *top)
			assert.Equal(t, tc.quiet, *quiet)
		})
	}
}

func TestParseErrorsAndHelp(t *testing.T) {
	fs := NewFlagSet("predict", "trainer predict [flags] IMAGE...")
	fs.Int("top", 3, "classes to show")
	var out bytes.Buffer
	_, err := fs.Parse([]string{"a.png", "-h"}, &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	assert.Contains(t, out.String(), "usage: trainer predict [flags] IMAGE...\n")
	assert.Contains(t, out.String(), "-top int")

	_, err = fs.Parse([]string{"a.png", "-tpo", "5"}, &out)
	var ue UsageError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "flag provided but not defined: -tpo (did you mean -top?)", err.Error())
	_, err = fs.Parse([]string{"--checkpoint", "x"}, &out)
	assert.Equal(t, "flag provided but not defined: -checkpoint", err.Error(), "no flag is close")

	err = fs.ParseNoArgs([]string{"-top", "1", "stray"}, &out)
	require.ErrorAs(t, err, &ue)
	assert.Contains(t, err.Error(), `unexpected argument "stray"`)
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		line string
	}{
		{nil, 0, ""},
		{flag.ErrHelp, 0, ""},
		{Usagef("-top %d: want at least 1", 0), 2, "prog: -top 0: want at least 1\n"},
		{fmt.Errorf("stopped in epoch 2: %w", context.Canceled), 130, "prog: stopped in epoch 2: context canceled\n"},
		{errors.New("two\nlines"), 1, "prog: two; lines\n"},
	} {
		var stderr bytes.Buffer
		assert.Equal(t, tc.code, Status("prog", tc.err, &stderr), "%v", tc.err)
		assert.Equal(t, tc.line, stderr.String())
	}
}

func TestCheckResultsDir(t *testing.T) {
	tmp := t.TempDir()
	committed := filepath.Join(tmp, "experiments", "gradflow", "results")
	fresh := filepath.Join(tmp, "runs", "gradflow")
	done := filepath.Join(tmp, "done")
	require.NoError(t, os.MkdirAll(done, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(done, "summary.json"), []byte("{}"), 0o644))
	for _, tc := range []struct {
		out              string
		quick, overwrite bool
		want             string // "" for no error
	}{
		{fresh, false, false, ""},
		{fresh, true, false, ""},
		{committed, false, false, ""},
		{committed, true, false, "committed results"},
		{committed, true, true, "committed results"},
		{filepath.Join(tmp, "experiments", "degradation", "results-5k"), true, true, "committed results"},
		{done, false, false, "already holds results (summary.json); pass -overwrite"},
		{done, false, true, ""},
	} {
		err := CheckResultsDir(tc.out, "summary.json", tc.quick, tc.overwrite)
		if tc.want == "" {
			assert.NoError(t, err, "%+v", tc)
			continue
		}
		var ue UsageError
		require.ErrorAs(t, err, &ue, "%+v", tc)
		assert.Contains(t, err.Error(), tc.want)
	}
}

func TestFlagged(t *testing.T) {
	base := errors.New("Config.Batch 1: want at least 2; Config.WarmupEpochs 3 < Config.Epochs 2; Config.Unknown stays")
	err := Flagged(fmt.Errorf("wrapped: %w", context.Canceled))
	assert.ErrorIs(t, err, context.Canceled)
	err = Flagged(base)
	assert.Equal(t, "-batch 1: want at least 2; -warmup 3 < -epochs 2; Config.Unknown stays", err.Error())
	assert.ErrorIs(t, err, base)
	assert.NoError(t, Flagged(nil))
}

func TestPreset(t *testing.T) {
	fs := NewFlagSet("x", "")
	n := fs.Int("n", 1, "")
	name := fs.String("name", "a", "")
	require.NoError(t, fs.ParseNoArgs([]string{"-n", "5"}, io.Discard))
	require.NoError(t, fs.Preset(map[string]string{"n": "7", "name": "quick"}))
	assert.Equal(t, 5, *n, "a flag given on the command line wins")
	assert.Equal(t, "quick", *name)
	assert.ErrorContains(t, fs.Preset(map[string]string{"missing": "1"}), "preset -missing 1")
}
