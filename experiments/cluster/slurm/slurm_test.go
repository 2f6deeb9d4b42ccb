//go:build slurm

// Package slurm tests the batch scripts of this directory on a real Slurm: the test starts a
// one-node Slurm on this machine (local-slurm.sh, in a temporary directory), runs the quick
// deep-ResNet study (experiments/deep -quick) as an array job (study.sbatch) and gathers it
// (gather.sbatch), and checks that the results are those of the same study run by one process.
// It needs Debian's slurm-wlm and munge, and root; make slurm-test installs them and runs it:
//
//	go test -tags slurm -count=1 ./experiments/cluster/slurm/
package slurm

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// root is the repository's root, where the jobs run (the peer's default -peer path is relative).
var root, _ = filepath.Abs(filepath.Join("..", "..", ".."))

// A study of experiments/deep run as a Slurm array job, one core per task, then gathered by a
// job of its own, gives the records.csv of the same study run by one process, all but the wall
// times; Slurm saw every task end with exit code 0, and each left its log in the study.
func TestStudyAsArrayJob(t *testing.T) {
	start := time.Now()
	// A signal or the deadline ends the commands, and the test then stops the cluster: no
	// daemon outlives it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()

	tmp := t.TempDir()
	deep := filepath.Join(tmp, "deep")
	run(ctx, t, nil, "go", "build", "-o", deep, "./experiments/deep")
	build := time.Since(start)

	cluster := filepath.Join(tmp, "slurm")
	ports := freePorts(t, 2)
	env := []string{"SLURMCTLD_PORT=" + strconv.Itoa(ports[0]), "SLURMD_PORT=" + strconv.Itoa(ports[1])}
	t.Cleanup(func() {
		// Not ctx: it may be what ended the test.
		stopCtx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		cmd := exec.CommandContext(stopCtx, "experiments/cluster/slurm/local-slurm.sh", "stop", cluster)
		cmd.Dir, cmd.Env = root, append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("stopping the Slurm of %s: %v\n%s", cluster, err, out)
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			logTails(t, filepath.Join(cluster, "*.log"), filepath.Join(tmp, "*", "logs", "*"))
		}
	})
	run(ctx, t, env, "experiments/cluster/slurm/local-slurm.sh", "start", cluster)
	env = append(env, "SLURM_CONF="+filepath.Join(cluster, "slurm.conf"), "DEEP="+deep)
	up := time.Since(start)

	// The study, as a user submits it (study.sbatch's commands), waiting for the array to end.
	x := filepath.Join(tmp, "x")
	names := tasks(run(ctx, t, env, deep, "-quick", "-out", x, "-list"))
	require.Len(t, names, 4, "the quick study: 2 seeds × 2 sides")
	require.NoError(t, os.MkdirAll(filepath.Join(x, "logs"), 0o755))
	job := strings.TrimSpace(run(ctx, t, env, "sbatch", "--wait", "--parsable", fmt.Sprintf("--array=0-%d", len(names)-1),
		"-o", filepath.Join(x, "logs", "slurm-%A_%a.out"), "experiments/cluster/slurm/study.sbatch", x))
	require.Regexp(t, `^\d+$`, job, "sbatch --parsable prints the job's id")
	tasksDone := time.Since(start)
	// The dependency is already met here (or its job forgotten, which Slurm counts as met); the
	// submission is the user's.
	gatherJob := strings.TrimSpace(run(ctx, t, env, "sbatch", "--wait", "--parsable", "--dependency=afterok:"+job,
		"-o", filepath.Join(x, "logs", "slurm-gather-%j.out"), "experiments/cluster/slurm/gather.sbatch", x))
	gathered := time.Since(start)

	// Slurm's record of every job that ended (jobcomp/filetxt): each element of the array, on
	// one CPU, and the gathering, all with exit code 0.
	ended := jobcomp(t, filepath.Join(cluster, "jobcomp.log"))
	for i, name := range names {
		j, ok := ended[job+"_"+strconv.Itoa(i)]
		if assert.True(t, ok, "Slurm has no record of task %d (%s) of job %s", i, name, job) {
			assert.Equal(t, "COMPLETED", j["JobState"], "task %d", i)
			assert.Equal(t, "0:0", j["ExitCode"], "task %d", i)
			assert.Contains(t, j["Tres"], "cpu=1,", "task %d: one core", i)
		}
		b, err := os.ReadFile(filepath.Join(x, "runs", name, "status.json"))
		if assert.NoError(t, err, "task %d", i) {
			var st struct{ Status string }
			require.NoError(t, json.Unmarshal(b, &st), "%s", b)
			assert.Equal(t, "done", st.Status, "task %d (%s): status.json %s", i, name, b)
		}
		log, err := os.ReadFile(filepath.Join(x, "logs", name+".log"))
		assert.NoError(t, err, "task %d: its log in the study", i)
		assert.NotEmpty(t, log, "task %d", i)
		slurmOut, err := os.ReadFile(filepath.Join(x, "logs", fmt.Sprintf("slurm-%s_%d.out", job, i)))
		assert.NoError(t, err, "task %d: Slurm's output file", i)
		assert.Contains(t, string(slurmOut), filepath.Join(x, "logs", name+".log"), "task %d: Slurm's output names the log", i)
	}
	if g, ok := ended[gatherJob]; assert.True(t, ok, "Slurm has no record of the gathering job %s", gatherJob) {
		assert.Equal(t, "COMPLETED", g["JobState"])
		assert.Equal(t, "0:0", g["ExitCode"])
	}
	summary, err := os.ReadFile(filepath.Join(x, "logs", "slurm-gather-"+gatherJob+".out"))
	require.NoError(t, err)
	assert.Contains(t, string(summary), "# Study: resnet8", "the gathering job's output is the summary")
	for _, f := range []string{"records.csv", "summary.md", "study.png"} {
		assert.FileExists(t, filepath.Join(x, "results", f))
	}

	// The same study by one process.
	y := filepath.Join(tmp, "y")
	run(ctx, t, env, deep, "-quick", "-out", y)
	assert.Equal(t, records(t, filepath.Join(y, "results", "records.csv")), records(t, filepath.Join(x, "results", "records.csv")),
		"records.csv of the array job (x) against the study run by one process (y), without epoch_s")

	t.Logf("build %.0fs, Slurm up %.1fs, array job %.0fs, gathering job %.0fs, the study by one process %.0fs",
		build.Seconds(), (up - build).Seconds(), (tasksDone - up).Seconds(), (gathered - tasksDone).Seconds(),
		(time.Since(start) - gathered).Seconds())
}

// run runs a command from the repository's root with env added to this process's environment,
// and returns its standard output; a failure ends the test with both outputs.
func run(ctx context.Context, t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", err, context.Cause(ctx))
		}
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// freePorts returns n TCP ports nothing listens on now, so that the test's Slurm meets no other.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// tasks reads deep -list: a task's name on each line, after its index.
func tasks(list string) []string {
	var names []string
	for i, line := range strings.Split(strings.TrimSpace(list), "\n") {
		index, name, _ := strings.Cut(line, "\t")
		if index != strconv.Itoa(i) {
			return nil
		}
		names = append(names, name)
	}
	return names
}

// jobcomp reads Slurm's jobcomp/filetxt log (a line of KEY=VALUE fields per job that ended),
// keyed by job id: ARRAYJOB_TASK for an element of an array.
func jobcomp(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	jobs := map[string]map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := map[string]string{}
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			f[k] = v
		}
		id := f["JobId"]
		if f["ArrayJobId"] != "" {
			id = f["ArrayJobId"] + "_" + f["ArrayTaskId"]
		}
		jobs[id] = f
	}
	return jobs
}

// records reads a study's records.csv without its last column, the wall times (epoch_s).
func records(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	require.NoError(t, err, path)
	require.NotEmpty(t, rows, path)
	require.Equal(t, "epoch_s", rows[0][len(rows[0])-1], "%s: the last column", path)
	for i, r := range rows {
		rows[i] = r[:len(r)-1]
	}
	return rows
}

// logTails logs the end of each file the patterns match, to show why the test failed.
func logTails(t *testing.T, patterns ...string) {
	for _, p := range patterns {
		files, _ := filepath.Glob(p)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
			t.Logf("--- %s (the last %d lines)\n%s", f, min(len(lines), 20), strings.Join(lines[max(0, len(lines)-20):], "\n"))
		}
	}
}
