//go:build linux || darwin || freebsd || netbsd || openbsd

package runlog

import (
	"io"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// terminalColumns is the width of the terminal w writes to: the TIOCGWINSZ ioctl, else $COLUMNS,
// else 0 (unknown).
func terminalColumns(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		var ws struct{ rows, cols, x, y uint16 }
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), uintptr(syscall.TIOCGWINSZ), uintptr(unsafe.Pointer(&ws))); e == 0 && ws.cols > 0 {
			return int(ws.cols)
		}
	}
	n, _ := strconv.Atoi(os.Getenv("COLUMNS"))
	return max(n, 0)
}
