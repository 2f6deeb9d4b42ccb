//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package runlog

import (
	"io"
	"os"
	"strconv"
)

// terminalColumns is $COLUMNS, else 0 (unknown).
func terminalColumns(io.Writer) int {
	n, _ := strconv.Atoi(os.Getenv("COLUMNS"))
	return max(n, 0)
}
