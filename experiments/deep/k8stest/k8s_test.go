// Package k8stest decodes the Jobs `go run ./experiments/deep -kubernetes DIR` writes into the
// Kubernetes API's batch/v1 types, refusing unknown fields, and checks what makes them run the
// study: an Indexed Job with one completion per task whose pods read their index with -task
// array, the gathering Job, names Kubernetes accepts, resources it can parse, and the volume.
// No cluster is needed (none is available where this project is tested).
package k8stest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// decodeJob reads a manifest strictly: a field the API does not know is an error.
func decodeJob(t *testing.T, path string) batchv1.Job {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var job batchv1.Job
	require.NoError(t, dec.Decode(&job), path)
	return job
}

func TestManifestsAreValidJobs(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("go", "run", "./experiments/deep", "-models", "resnet56,resnet110", "-recipes", "base,paper",
		"-seeds", "1-3", "-out", filepath.Join(dir, "Study_56"), "-kubernetes", dir, "-image", "registry.example/resnet-go:1",
		"-claim", "studies", "-parallelism", "4")
	cmd.Dir = filepath.Join("..", "..", "..")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "24 tasks, 4 at a time, in the Indexed Job deep-study-56-tasks")
	assert.NoFileExists(t, filepath.Join(dir, "Study_56", "study.json"), "the study is made on the volume, not here")

	tasks := decodeJob(t, filepath.Join(dir, "tasks-job.json"))
	gather := decodeJob(t, filepath.Join(dir, "gather-job.json"))
	for _, job := range []batchv1.Job{tasks, gather} {
		assert.Equal(t, "batch/v1", job.APIVersion)
		assert.Equal(t, "Job", job.Kind)
		assert.Empty(t, validation.IsDNS1123Label(job.Name), job.Name)
		pod := job.Spec.Template.Spec
		assert.Equal(t, corev1.RestartPolicyNever, pod.RestartPolicy, "a Job's pods may not restart Always")
		require.Len(t, pod.Containers, 1)
		c := pod.Containers[0]
		assert.Equal(t, "registry.example/resnet-go:1", c.Image)
		assert.Equal(t, "1", c.Resources.Requests.Cpu().String())
		assert.Equal(t, "2Gi", c.Resources.Requests.Memory().String())
		require.Len(t, pod.Volumes, 1)
		require.NotNil(t, pod.Volumes[0].PersistentVolumeClaim)
		assert.Equal(t, "studies", pod.Volumes[0].PersistentVolumeClaim.ClaimName)
		require.Len(t, c.VolumeMounts, 1)
		assert.Equal(t, pod.Volumes[0].Name, c.VolumeMounts[0].Name)
		assert.Equal(t, "/studies", c.VolumeMounts[0].MountPath)
		command := strings.Join(c.Command, " ")
		assert.Contains(t, command, "-out /studies/Study_56")
		assert.Contains(t, command, "-models resnet56,resnet110 -recipes base,paper -seeds 1,2,3", "the grid travels with every pod")
		assert.Equal(t, job.Spec.Template.Labels, job.Labels)
	}
	require.NotNil(t, tasks.Spec.CompletionMode)
	assert.Equal(t, batchv1.IndexedCompletion, *tasks.Spec.CompletionMode)
	assert.Equal(t, int32(24), *tasks.Spec.Completions, "one completion per task")
	assert.Equal(t, int32(4), *tasks.Spec.Parallelism)
	assert.Contains(t, strings.Join(tasks.Spec.Template.Spec.Containers[0].Command, " "), "-task array", "pods read JOB_COMPLETION_INDEX")
	assert.Nil(t, gather.Spec.CompletionMode)
	assert.Equal(t, int32(1), *gather.Spec.Completions)
	assert.Contains(t, strings.Join(gather.Spec.Template.Spec.Containers[0].Command, " "), "-gather")
}
