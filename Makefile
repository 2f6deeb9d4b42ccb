# The two commands of the README: `make run` (the main job on its default) and `make test`.
# OpenBLAS is used when the C library links (Debian: libopenblas-dev); otherwise pure-Go gonum.

GO      ?= go
PYTHON  ?= /usr/bin/python3
OPENBLAS := $(shell printf 'int main(void){return 0;}' | cc -x c - -lopenblas -o /dev/null 2>/dev/null && echo yes)
TAGS    := $(if $(OPENBLAS),-tags openblas,)
BIN     := bin/trainer

.PHONY: setup setup-test build run test mpi-test bench fmt vet golden experiments experiments-quick fuzz notebooks k8s-test

# setup installs OpenBLAS and Debian's Fashion-MNIST when they are missing and this is a Debian
# machine run as root. Without OpenBLAS everything still works on pure Go, only slower; the
# Fashion-MNIST files serve the full-data runs and one test of the built-in subset.
FMNIST := $(wildcard /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz)
setup:
	@if { [ -z "$(OPENBLAS)" ] || [ -z "$(FMNIST)" ]; } && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing libopenblas-dev dataset-fashion-mnist"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas-dev dataset-fashion-mnist >/dev/null; \
	fi
	$(GO) mod download

# The tests also check against PyTorch (the trainer's peer script, weights files): Debian's
# python3-torch and python3-torchvision, installed the same way; without them those tests fail
# with a message saying so.
TORCH := $(shell $(PYTHON) -c 'import torch, torchvision' 2>/dev/null && echo yes)
setup-test: setup
	@if [ -z "$(TORCH)" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing python3-torch python3-torchvision"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-torchvision >/dev/null; \
	fi

build: setup
	$(MAKE) --no-print-directory $(BIN)

$(BIN): FORCE
	$(GO) build $(TAGS) -o $(BIN) ./cmd/trainer

FORCE:

# The main job on its built-in default: ResNet-20 trained on the embedded Fashion-MNIST subset
# (a few minutes on two cores); it prints the test accuracy reached. The run goes to runs/.
run: build
	./$(BIN) train

# Tests: the default build (the SSE kernels against the Go loops and against their float64
# definitions), the ops without assembly (purego: every op through the Go loops, the loops against
# the float64 definitions), and the OpenBLAS build of the ops when OpenBLAS is there.
# The repository's Go files (not those of kernels or caches built under build/).
GOFILES = $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './build/*')

test: setup-test
	$(GO) vet ./...
	@test -z "$$(gofmt -l $(GOFILES))" || { echo "gofmt would change:"; gofmt -l $(GOFILES); exit 1; }
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -tags purego ./graph/ops/
	@if [ -n "$(OPENBLAS)" ]; then $(GO) vet -tags openblas ./... && $(GO) test -count=1 -tags openblas ./graph/ops/ ./cmd/trainer/; fi
	@if [ -n "$(MPI)" ]; then $(MAKE) --no-print-directory mpi-test; fi
	$(MAKE) --no-print-directory experiments-quick
	$(MAKE) --no-print-directory slurm-test
	$(MAKE) --no-print-directory notebooks
	$(MAKE) --no-print-directory k8s-test

# The Kubernetes Jobs of experiments/deep against the Kubernetes API's types, in a module of its
# own (experiments/deep/k8stest) so the project's module does not depend on that API.
k8s-test:
	cd experiments/deep/k8stest && $(GO) vet ./... && $(GO) test -count=1 ./...

# Data-parallel training over MPI (build tag mpi; Debian libopenmpi-dev and openmpi-bin): the
# all-reduce of train/dist over 3 ranks, and the trainer under mpirun -np 2 (same weights as one
# process accumulating 2 micro-batches; a rank killed mid-run). make test runs it when Open MPI
# is installed.
MPI := $(shell command -v mpirun >/dev/null && pkg-config --exists ompi-c 2>/dev/null && echo yes)
mpi-test:
	$(GO) vet -tags mpi ./train/... ./cmd/trainer/
	$(GO) test -count=1 -tags mpi ./train/dist/
	$(GO) test -count=1 -tags mpi -run '^TestMPI' ./cmd/trainer/

# Go benchmarks, then trainer bench against the PyTorch peer on the same workloads, alternating.
bench: build
	$(GO) test $(TAGS) -run '^$$' -bench . -benchmem ./graph/ops/ ./blocks/ ./resnet/
	./$(BIN) compare -rounds 5

# The experiments of experiments/README.md with the settings of their committed results (about
# ten hours on two cores; runs with checkpoints are reused, interrupted ones resumed), and a
# reduced version of each that runs in seconds (part of make test, so the scripts never rot).
# The full degradation study trains its nets in two processes, one core each, then a last call
# reuses the four runs and writes the results.
DEGRADATION := bin/degradation
DEG_OUT     := experiments/degradation/results
experiments: setup-test
	$(GO) run $(TAGS) ./experiments/gradflow -steps 150 -warmup 50 -out experiments/gradflow/results -overwrite
	$(GO) build $(TAGS) -o $(DEGRADATION) ./experiments/degradation
	$(DEGRADATION) -nets plain56,plain20 -workers 1 -out $(DEG_OUT) & pid=$$!; \
	$(DEGRADATION) -nets resnet56,resnet20 -workers 1 -out $(DEG_OUT) && wait $$pid
	$(DEGRADATION) -out $(DEG_OUT) -overwrite
	$(DEGRADATION) -train-limit 5000 -test-limit 1000 -epochs 8 -depths 20,56,110 -workers 1 -out experiments/degradation/results-5k -overwrite
	$(GO) run $(TAGS) ./experiments/lockstep -dtype float32 -out experiments/lockstep/results -overwrite
	$(GO) run $(TAGS) ./experiments/lockstep -dtype float64 -steps64 100 -out experiments/lockstep/results -overwrite
	$(GO) run $(TAGS) ./experiments/lockstep -model resnet110 -threads 1 -workers 1 -dtype float32 -out experiments/lockstep/results-110 -overwrite
	$(GO) run $(TAGS) ./experiments/lockstep -model resnet110 -threads 1 -workers 1 -dtype float64 -steps64 20 -control -nudge 100 -out experiments/lockstep/results-110 -overwrite
	$(GO) build $(TAGS) -o bin/deep ./experiments/deep
	bin/deep -models resnet56 -recipes base -seeds 1-20 -epochs 8 -stop-after 2 -out runs/deep/seeds -results experiments/deep/results-seeds -overwrite
	bin/deep -models resnet56 -recipes base,paper,warmup3,zeroinit -seeds 1-2 -epochs 8 -out runs/deep/recipes56 -results experiments/deep/results-recipes56 -overwrite
	bin/deep -models resnet110 -recipes base,paper,warmup3,zeroinit -seeds 1-2 -epochs 8 -out runs/deep/recipes110 -results experiments/deep/results-recipes110 -overwrite
	bin/deep -models resnet110 -recipes base -seeds 3-8 -epochs 8 -out runs/deep/seeds110 -results experiments/deep/results-seeds110 -overwrite
	bin/deep -models preresnet56,preresnet110 -recipes base -seeds 1-2 -epochs 8 -out runs/deep/preact -results experiments/deep/results-preact -overwrite
	bin/deep -models resnet20,resnet56,resnet110 -recipes zeroinit -seeds 1 -sides go -epochs 30 -out runs/deep/long -results experiments/deep/results-long -overwrite

QUICK_OUT ?= build/experiments-quick
experiments-quick:
	$(GO) run $(TAGS) ./experiments/gradflow -quick -out $(QUICK_OUT)/gradflow -overwrite
	$(GO) run $(TAGS) ./experiments/degradation -quick -out $(QUICK_OUT)/degradation -overwrite
	$(GO) run $(TAGS) ./experiments/lockstep -quick -out $(QUICK_OUT)/lockstep -overwrite
	rm -rf $(QUICK_OUT)/deep
	$(GO) run $(TAGS) ./experiments/deep -quick -out $(QUICK_OUT)/deep > /dev/null
	rm -rf $(QUICK_OUT)/deep-depth
	$(GO) run $(TAGS) ./experiments/deep -quick -models resnet8,resnet14 -seeds 1 -sides go -out $(QUICK_OUT)/deep-depth > /dev/null
	grep -q '^| resnet | base | go | 8: .* | 14 ≤ 8: ' $(QUICK_OUT)/deep-depth/results/summary.md

# The deep study's Slurm scripts (experiments/cluster/slurm) on a real Slurm: the test starts a
# one-node Slurm on this machine (local-slurm.sh, in a temporary directory), runs the quick study
# as an array job and gathers it, compares the results with the study run by one process, and
# stops the daemons. It needs Debian's slurm-wlm and munge (installed here when missing, as root)
# and takes about a minute on two cores.
.PHONY: slurm-test
slurm-test:
	@if { ! command -v slurmctld || ! command -v munged; } >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing slurm-wlm munge"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null; \
	fi
	$(GO) vet -tags slurm ./experiments/cluster/slurm/
	$(GO) test -tags slurm -count=1 -timeout 6m ./experiments/cluster/slurm/

# Fuzz targets of the readers of outside bytes, as package:FuzzName (add yours to the list).
# make fuzz runs each for FUZZTIME, one after the other (go test fuzzes one target at a time, on
# every core); their seed corpora in testdata/fuzz run with every go test, and a crasher found is
# written there, to be kept as a regression case.
FUZZTIME ?= 1m
FUZZ := \
	./train/data:FuzzIDX \
	./train/data:FuzzCIFAR \
	./train/data:FuzzPNG \
	./train/data:FuzzImage \
	./train/weights:FuzzSafetensors \
	./train/weights:FuzzPTH \
	./train/checkpoint:FuzzDecode \
	./train:FuzzConfig \
	./train:FuzzProbeCSV \
	./train/runlog:FuzzRecords
fuzz:
	@set -e; for t in $(FUZZ); do \
		echo "fuzzing $$t for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; \
	done

# The notebooks of experiments/notebooks/, one set per Go kernel (GoNB and gophernotes), executed
# headless with Debian's jupyter nbconvert into $(NB_BUILD)/out/; any cell error fails. Then a Go
# test checks that the committed notebooks carry the outputs of the cells that ran.
# NOTEBOOKS_UPDATE=1 copies the executed notebooks over the committed ones (how they are made).
# The kernels are built under $(NB_BUILD) from the Go module proxy (GoNB: pinned in
# experiments/notebooks/kernels/gonb/go.mod; gophernotes: the commit in GOPHERNOTES_SRC, cloned
# from its repository when that directory does not exist) and registered only there.
NB_BUILD         ?= build/notebooks
NB_KERNELS       ?= gonb gophernotes
GOPHERNOTES_SRC  ?= $(abspath $(wildcard ../shared/vendor/gophernotes))
NOTEBOOKS_UPDATE ?=
notebooks:
	GO="$(GO)" NB_BUILD="$(NB_BUILD)" NB_KERNELS="$(NB_KERNELS)" GOPHERNOTES_SRC="$(GOPHERNOTES_SRC)" \
		NOTEBOOKS_UPDATE="$(NOTEBOOKS_UPDATE)" experiments/notebooks/run.sh

fmt:
	gofmt -w $(GOFILES)

vet:
	$(GO) vet ./...

# Regenerate the PyTorch golden data (needs Debian's python3-torch and python3-torchvision).
golden:
	cd resnet/testdata && $(PYTHON) gen_golden.py && $(PYTHON) lesson_resnet.py && $(PYTHON) gen_golden_preact.py
