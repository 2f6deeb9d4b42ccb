package cli

import (
	"os"
	"strconv"
)

// ArrayIndexVars are the environment variables that carry a task's index in an array job:
// Slurm's (sbatch --array) and Kubernetes' (an Indexed Job), in the order they are looked up.
var ArrayIndexVars = []string{"SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"}

// TaskIndex reads a -task flag: "" (no task: -1), a task number, or "array", the index the
// scheduler gives this process in ArrayIndexVars. It is explicit rather than read from the
// environment whenever set, so that a gathering step run inside an array job stays one.
func TaskIndex(flag string) (int, error) {
	value, from := flag, "-task"
	switch flag {
	case "":
		return -1, nil
	case "array":
		value = ""
		for _, v := range ArrayIndexVars {
			if s, ok := os.LookupEnv(v); ok {
				value, from = s, v
				break
			}
		}
		if value == "" {
			return 0, Usagef("-task array: neither %s nor %s is set (not inside an array job?)", ArrayIndexVars[0], ArrayIndexVars[1])
		}
	}
	i, err := strconv.Atoi(value)
	if err != nil || i < 0 {
		if from == "-task" {
			return 0, Usagef("-task %q: want a task number (see -list) or array", flag)
		}
		return 0, Usagef("-task array: %s=%q is not a task number", from, value)
	}
	return i, nil
}
