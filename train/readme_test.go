package train_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's Go program compiles and runs as shown: the first thing a reader copies must work.
func TestREADMEProgram(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a program")
	}
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	section := string(readme)
	start := strings.Index(section, "## Using it from Go")
	require.GreaterOrEqual(t, start, 0, "the README has its Go section")
	m := regexp.MustCompile("(?s)```go\n(.*?)```").FindStringSubmatch(section[start:])
	require.NotNil(t, m, "the section has a Go block")
	// A directory of the module whose name starts with "." is left out of ./... patterns.
	dir, err := os.MkdirTemp("..", ".readme-*")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(m[1]), 0o644))
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "run", "./"+filepath.Base(dir))
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Regexp(t, `step 10: loss \d+\.\d\d\nstep 20: loss \d+\.\d\d\ntest accuracy after 20 steps: \d+%\n$`, string(out))
}
