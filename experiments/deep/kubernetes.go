package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
	"github.com/resnet-go/resnet/train/runlog"
)

// kube is where a study runs on Kubernetes: the image holding this program and the repository's
// experiments/deep/peer.py, the claim of a volume every pod mounts at mount, and how many tasks
// run at once.
type kube struct {
	dir         string // where the manifests are written ("" = none)
	image       string
	claim       string
	mount       string
	parallelism int
}

// The manifests are the Kubernetes API's batch/v1 Job, reduced to the fields they set. JSON is
// YAML, and kubectl reads either; k8stest/ decodes them strictly into the API's own types.
type (
	object struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Metadata   metadata `json:"metadata"`
		Spec       jobSpec  `json:"spec"`
	}
	metadata struct {
		Name   string            `json:"name,omitempty"`
		Labels map[string]string `json:"labels,omitempty"`
	}
	jobSpec struct {
		CompletionMode string      `json:"completionMode,omitempty"`
		Completions    int         `json:"completions"`
		Parallelism    int         `json:"parallelism"`
		BackoffLimit   int         `json:"backoffLimit"`
		Template       podTemplate `json:"template"`
	}
	podTemplate struct {
		Metadata metadata `json:"metadata"`
		Spec     podSpec  `json:"spec"`
	}
	podSpec struct {
		RestartPolicy string      `json:"restartPolicy"`
		Containers    []container `json:"containers"`
		Volumes       []volume    `json:"volumes"`
	}
	container struct {
		Name         string        `json:"name"`
		Image        string        `json:"image"`
		Command      []string      `json:"command"`
		Resources    resources     `json:"resources"`
		VolumeMounts []volumeMount `json:"volumeMounts"`
	}
	resources struct {
		Requests map[string]string `json:"requests"`
		Limits   map[string]string `json:"limits"`
	}
	volumeMount struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
	}
	volume struct {
		Name                  string   `json:"name"`
		PersistentVolumeClaim pvcClaim `json:"persistentVolumeClaim"`
	}
	pvcClaim struct {
		ClaimName string `json:"claimName"`
	}
)

// Files the manifests are written to, in kube.dir.
const (
	tasksManifest  = "tasks-job.json"
	gatherManifest = "gather-job.json"
)

// dnsLabel is what Kubernetes accepts as a Job's name (RFC 1123 label, shorter for the pods' names).
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// jobName makes a study's directory name into a Job name.
func jobName(out string) string {
	base := strings.ToLower(filepath.Base(filepath.Clean(out)))
	name := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(base, "-"), "-")
	if len(name) > 40 {
		name = strings.TrimRight(name[:40], "-")
	}
	return "deep-" + name
}

// manifests returns the Indexed Job that runs the study's tasks (one pod per index, the index in
// JOB_COMPLETION_INDEX, read by -task array) and the Job that gathers them once it has completed.
func manifests(s Study, o options) (tasks, gatherJob object, err error) {
	k := o.kube
	switch {
	case k.image == "" || k.claim == "":
		return tasks, gatherJob, cli.Usagef("-kubernetes needs -image (this program and the repository's experiments/deep/peer.py) and -claim (a volume every pod mounts)")
	case !path.IsAbs(k.mount):
		return tasks, gatherJob, cli.Usagef("-mount %q: want an absolute path in the container", k.mount)
	case k.parallelism < 1:
		return tasks, gatherJob, cli.Usagef("-parallelism %d: want at least 1", k.parallelism)
	}
	name := jobName(o.out)
	if !dnsLabel.MatchString(name) {
		return tasks, gatherJob, cli.Usagef("-out %s gives no valid Job name (%q)", o.out, name)
	}
	// The study lives on the volume under its own directory name; the pods run from the root of
	// the repository in the image, where -peer's default path holds.
	out := path.Join(k.mount, filepath.Base(filepath.Clean(o.out)))
	job := func(suffix string, command []string, cpu string) object {
		labels := map[string]string{"app.kubernetes.io/name": "resnet-deep", "resnet-go/study": name}
		return object{
			APIVersion: "batch/v1", Kind: "Job",
			Metadata: metadata{Name: name + suffix, Labels: labels},
			Spec: jobSpec{Completions: 1, Parallelism: 1, BackoffLimit: 3, Template: podTemplate{
				Metadata: metadata{Labels: labels},
				Spec: podSpec{RestartPolicy: "Never",
					Containers: []container{{Name: "deep", Image: k.image, Command: command,
						Resources:    resources{Requests: map[string]string{"cpu": cpu, "memory": "2Gi"}, Limits: map[string]string{"cpu": cpu}},
						VolumeMounts: []volumeMount{{Name: "study", MountPath: k.mount}}}},
					Volumes: []volume{{Name: "study", PersistentVolumeClaim: pvcClaim{ClaimName: k.claim}}}}}},
		}
	}
	n := len(s.Tasks())
	tasks = job("-tasks", append(append([]string{"deep"}, s.Flags()...), "-out", out, "-task", "array", "-python", o.peer.python, "-peer", o.peer.script), "1")
	tasks.Spec.CompletionMode, tasks.Spec.Completions, tasks.Spec.Parallelism = "Indexed", n, min(k.parallelism, n)
	// A failed pod is retried from its task's last epoch; each retry costs at most an epoch.
	tasks.Spec.BackoffLimit = 3 * n
	gatherJob = job("-gather", append(append([]string{"deep"}, s.Flags()...), "-out", out, "-gather", "-overwrite"), "1")
	return tasks, gatherJob, nil
}

// writeManifests writes the two Jobs into o.kube.dir and says how to run them.
func writeManifests(s Study, o options) (string, error) {
	tasks, g, err := manifests(s, o)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(o.kube.dir, 0o755); err != nil {
		return "", err
	}
	for file, obj := range map[string]object{tasksManifest: tasks, gatherManifest: g} {
		b, err := json.MarshalIndent(obj, "", "  ")
		if err != nil {
			return "", err
		}
		if err := runlog.WriteFileAtomic(filepath.Join(o.kube.dir, file), append(b, '\n')); err != nil {
			return "", err
		}
	}
	t, gf := filepath.Join(o.kube.dir, tasksManifest), filepath.Join(o.kube.dir, gatherManifest)
	return fmt.Sprintf("%d tasks, %d at a time, in the Indexed Job %s; then the gathering Job %s:\n"+
		"  kubectl apply -f %s\n  kubectl wait --for=condition=complete --timeout=24h job/%s\n  kubectl apply -f %s\n",
		tasks.Spec.Completions, tasks.Spec.Parallelism, tasks.Metadata.Name, g.Metadata.Name, t, tasks.Metadata.Name, gf), nil
}
