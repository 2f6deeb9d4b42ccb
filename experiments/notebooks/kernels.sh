#!/usr/bin/env bash
# Builds the two Go kernels of the notebooks and registers them in a private Jupyter directory.
#
#   kernels.sh gonb          GoNB v0.11.5 + goimports (pinned in kernels/gonb/go.mod)
#   kernels.sh gophernotes   gophernotes with this project's packages compiled in
#
# Everything goes under $NB_BUILD (default build/notebooks): bin/ (kernels, goimports),
# jupyter/kernels/{gonb,gophernotes} (kernelspecs; point JUPYTER_PATH at jupyter/), and
# gophernotes/ (the patched copy of its source). Nothing is installed system-wide. Downloads come
# only from the Go module proxy.
#
# gophernotes: its source directory is GOPHERNOTES_SRC (the Makefile's default is
# ../shared/vendor/gophernotes when it exists). When it is unset or missing, commit
# GOPHERNOTES_COMMIT of GOPHERNOTES_REPO is cloned: the newest tag (v0.7.5) panics on Go >= 1.22
# and the module proxy does not serve this commit. Two changes are made in a copy: gomacro
# replaced by GOMACRO_VERSION (the one it requires does not start on Go >= 1.22) and x/tools
# raised to XTOOLS_VERSION (v0.14 does not compile on Go >= 1.25). Then gomacro's "import _b"
# bindings of NB_PACKAGES are generated into its imports/ and the kernel is rebuilt with them: a
# gophernotes kernel loads third-party packages as plugins, and gorgonia + tensor + a package of
# this project cannot be loaded together that way ("plugin was built with a different version of
# package"); compiled in, they can. The kernel runs with GODEBUG=gotypesalias=0 (kernel.json).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NB_BUILD=${NB_BUILD:-$ROOT/build/notebooks}
mkdir -p "$NB_BUILD"
NB_BUILD=$(cd "$NB_BUILD" && pwd)
GO=${GO:-go}
BIN=$NB_BUILD/bin
JUPYTER_DIR=$NB_BUILD/jupyter
mkdir -p "$BIN" "$JUPYTER_DIR/kernels"

GOPHERNOTES_REPO=${GOPHERNOTES_REPO:-https://github.com/gopherdata/gophernotes}
GOPHERNOTES_COMMIT=${GOPHERNOTES_COMMIT:-55142043d19696ba037e3e93f9ec6c7f8436e82d}
GOMACRO_VERSION=${GOMACRO_VERSION:-v0.0.0-20240506194242-2ff796e3da10}
XTOOLS_VERSION=${XTOOLS_VERSION:-v0.30.0}
# What the gophernotes notebooks import besides the standard library (gomacro has that built in).
NB_PACKAGES=${NB_PACKAGES:-"gorgonia.org/gorgonia gorgonia.org/tensor
	github.com/resnet-go/resnet/graph github.com/resnet-go/resnet/blocks github.com/resnet-go/resnet/resnet
	github.com/resnet-go/resnet/train github.com/resnet-go/resnet/train/data github.com/resnet-go/resnet/train/runlog
	gonum.org/v1/plot gonum.org/v1/plot/plotter gonum.org/v1/plot/vg gonum.org/v1/plot/vg/draw"}

log() { printf '%s\n' "notebooks: $*" >&2; }

# stamp NAME VALUE: true when NB_BUILD/NAME.stamp already holds VALUE (the build is up to date).
stamp_ok() { [ -f "$NB_BUILD/$1.stamp" ] && [ "$(cat "$NB_BUILD/$1.stamp")" = "$2" ]; }

gonb() {
	local mod=$ROOT/experiments/notebooks/kernels/gonb
	local key
	key=$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-16)-$($GO env GOVERSION)-$ROOT
	if ! stamp_ok gonb "$key" || [ ! -x "$BIN/gonb" ] || [ ! -x "$BIN/goimports" ]; then
		log "building GoNB and goimports (versions: $mod/go.mod)"
		(cd "$mod" && $GO build -o "$BIN/gonb" github.com/janpfeifer/gonb &&
			$GO build -o "$BIN/goimports" golang.org/x/tools/cmd/goimports)
		# --go_work: every notebook's program is built in a go.work that uses this repository (the
		# project's packages at its go.mod versions) and kernels/gonb (gonbui at the kernel's
		# version: the module proxy here refuses the version lists a plain import would need).
		JUPYTER_DATA_DIR=$JUPYTER_DIR PATH=$BIN:$PATH "$BIN/gonb" --install --raw_error --force_deps \
			--go_work="$ROOT,$mod" >/dev/null 2>&1
		echo "$key" >"$NB_BUILD/gonb.stamp"
	fi
}

gophernotes() {
	local src=${GOPHERNOTES_SRC:-}
	# A GOPATH layout: gomacro writes the bindings into GOPATH/src/<path of gophernotes/imports>.
	local gopath=$NB_BUILD/gophernotes/gopath
	local tree=$gopath/src/github.com/gopherdata/gophernotes
	if [ -z "$src" ] || [ ! -d "$src" ]; then
		src=$NB_BUILD/gophernotes/clone
		if [ ! -d "$src/.git" ]; then
			log "cloning gophernotes $GOPHERNOTES_COMMIT from $GOPHERNOTES_REPO"
			rm -rf "$src"
			git init -q "$src"
			git -C "$src" fetch -q --depth 1 "$GOPHERNOTES_REPO" "$GOPHERNOTES_COMMIT"
			git -C "$src" checkout -q FETCH_HEAD
		fi
	fi
	src=$(cd "$src" && pwd)
	local gen=$ROOT/experiments/notebooks/kernels/gophernotes/genbindings.go
	# Rebuilt when the source, the pins, the package list, Go or the project's Go files change.
	local key
	key=$( (
		echo "$GOMACRO_VERSION $XTOOLS_VERSION $NB_PACKAGES $($GO env GOVERSION) $ROOT"
		cat "$gen" "$ROOT/go.mod"
		(cd "$src" && find . -name '*.go' -o -name go.mod -o -name go.sum | LC_ALL=C sort | xargs cat)
		(cd "$ROOT" && git ls-files -co --exclude-standard -- '*.go' | grep -v _test.go | LC_ALL=C sort | xargs cat)
	) | sha256sum | cut -c1-16)
	if stamp_ok gophernotes "$key" && [ -x "$BIN/gophernotes" ]; then
		return
	fi
	log "building gophernotes from $src with the bindings of: $(echo $NB_PACKAGES)"
	local start=$SECONDS
	rm -rf "$tree"
	mkdir -p "$tree"
	(cd "$src" && tar --exclude=.git -cf - .) | (cd "$tree" && tar -xf -)
	chmod -R u+w "$tree"
	(
		cd "$tree"
		export GOFLAGS=-mod=mod GONOSUMDB=github.com/cosmos72 GOWORK=off
		# go: the project's own version; the project's requirements (the go4 pin of
		# ../shared/notes/gorgonia.md among them) come with it through the replace.
		$GO mod edit -go="$(awk '/^go /{print $2}' "$ROOT/go.mod")" \
			-replace "github.com/cosmos72/gomacro=github.com/cosmos72/gomacro@$GOMACRO_VERSION" \
			-require "github.com/resnet-go/resnet@v0.0.0" -replace "github.com/resnet-go/resnet=$ROOT"
		$GO get "golang.org/x/tools@$XTOOLS_VERSION" >/dev/null 2>&1
		mkdir -p genbindings && cp "$gen" genbindings/main.go
		# gotypesalias=0: gomacro predates types.Alias (gonum's vg.Length is an alias).
		if ! GODEBUG=gotypesalias=0 $GO run genbindings/main.go "$gopath" $NB_PACKAGES >"$NB_BUILD/gophernotes/genbindings.log" 2>&1; then
			tail -20 "$NB_BUILD/gophernotes/genbindings.log" >&2
			exit 1
		fi
		rm -rf genbindings
		$GO mod tidy >/dev/null 2>&1
		$GO build -o "$BIN/gophernotes" .
	)
	local kdir=$JUPYTER_DIR/kernels/gophernotes
	mkdir -p "$kdir"
	cp "$tree/kernel/logo-32x32.png" "$tree/kernel/logo-64x64.png" "$kdir/"
	cat >"$kdir/kernel.json" <<-EOF
		{
		 "argv": ["$BIN/gophernotes", "{connection_file}"],
		 "display_name": "Go (gophernotes)",
		 "language": "go",
		 "env": {"GODEBUG": "gotypesalias=0"}
		}
	EOF
	echo "$key" >"$NB_BUILD/gophernotes.stamp"
	log "gophernotes built in $((SECONDS - start)) s"
}

for k in "$@"; do
	case $k in
	gonb) gonb ;;
	gophernotes) gophernotes ;;
	*)
		echo "kernels.sh: unknown kernel $k (want gonb or gophernotes)" >&2
		exit 2
		;;
	esac
done
