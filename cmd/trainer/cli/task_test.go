package cli

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTaskIndex(t *testing.T) {
	for _, tc := range []struct {
		name       string
		flag       string
		slurm, k8s string // "-" leaves the variable unset
		want       int
		err        string
	}{
		{"no task", "", "3", "-", -1, ""},
		{"a number", "7", "3", "-", 7, ""},
		{"slurm", "array", "3", "-", 3, ""},
		{"kubernetes", "array", "-", "5", 5, ""},
		{"slurm first", "array", "2", "5", 2, ""},
		{"outside an array job", "array", "-", "-", 0, "-task array: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set"},
		{"bad variable", "array", "x", "-", 0, `-task array: SLURM_ARRAY_TASK_ID="x" is not a task number`},
		{"negative", "-1", "-", "-", 0, `-task "-1": want a task number (see -list) or array`},
		{"word", "all", "-", "-", 0, `-task "all": want a task number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for v, val := range map[string]string{"SLURM_ARRAY_TASK_ID": tc.slurm, "JOB_COMPLETION_INDEX": tc.k8s} {
				t.Setenv(v, val)
				if val == "-" {
					require.NoError(t, os.Unsetenv(v)) // t.Setenv restores it afterwards
				}
			}
			got, err := TaskIndex(tc.flag)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
