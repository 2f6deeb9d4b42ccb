#!/usr/bin/env bash
# make notebooks: builds the kernels (kernels.sh), executes every notebook headless on its kernel
# with Debian's `jupyter nbconvert --execute` into $NB_BUILD/out/KERNEL/ (a cell error fails the
# run), then checks the committed notebooks against the executed ones (go test, TestNotebooks*).
# The committed notebooks are never written, except with NOTEBOOKS_UPDATE=1, which copies the
# executed ones over them before the check.
#
# Settings (environment): NB_KERNELS (default "gonb gophernotes"), NB_BUILD, GO, JUPYTER,
# GOPHERNOTES_SRC (see kernels.sh), NOTEBOOKS_UPDATE.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/experiments/notebooks
NB_BUILD=${NB_BUILD:-$ROOT/build/notebooks}
mkdir -p "$NB_BUILD"
NB_BUILD=$(cd "$NB_BUILD" && pwd)
export NB_BUILD
GO=${GO:-go}
JUPYTER=${JUPYTER:-/usr/bin/jupyter}
NB_KERNELS=${NB_KERNELS:-gonb gophernotes}

# Jupyter from Debian (as root on a Debian machine, when missing).
if ! "$JUPYTER" nbconvert --version >/dev/null 2>&1 || ! /usr/bin/python3 -c 'import nbclient, ipykernel' 2>/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "notebooks: installing jupyter-nbconvert python3-nbclient python3-ipykernel" >&2
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jupyter-nbconvert python3-nbclient python3-ipykernel >/dev/null
	else
		echo "notebooks: needs Debian's jupyter-nbconvert python3-nbclient python3-ipykernel (apt-get install as root)" >&2
		exit 1
	fi
fi

"$HERE/kernels.sh" $NB_KERNELS

# Only the kernels built here: JUPYTER_PATH first, a private data directory, no user ones.
export JUPYTER_PATH=$NB_BUILD/jupyter JUPYTER_DATA_DIR=$NB_BUILD/jupyter
export PATH=$NB_BUILD/bin:$PATH
# Run in the committed notebook's directory (relative paths in the notebooks), write elsewhere.
for k in $NB_KERNELS; do
	out=$NB_BUILD/out/$k
	rm -rf "$out"
	mkdir -p "$out"
	for nb in "$HERE/$k"/*.ipynb; do
		start=$SECONDS
		if ! "$JUPYTER" nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name="$k" \
			--ExecutePreprocessor.timeout=1200 --output-dir "$out" "$nb" >"$out/$(basename "$nb" .ipynb).log" 2>&1; then
			grep -v '^[IWE][0-9]\{4\} ' "$out/$(basename "$nb" .ipynb).log" | tail -40 >&2
			echo "notebooks: $k/$(basename "$nb") failed (log: $out/$(basename "$nb" .ipynb).log)" >&2
			exit 1
		fi
		echo "notebooks: $k/$(basename "$nb") executed in $((SECONDS - start)) s" >&2
	done
	if [ "${NOTEBOOKS_UPDATE:-}" = 1 ]; then
		cp "$out"/*.ipynb "$HERE/$k/"
		echo "notebooks: updated experiments/notebooks/$k/ with the executed notebooks" >&2
	fi
done

cd "$ROOT"
NOTEBOOKS_EXECUTED=$NB_BUILD/out NOTEBOOKS_KERNELS="$NB_KERNELS" $GO test -count=1 -run 'Notebook' ./experiments/notebooks/
