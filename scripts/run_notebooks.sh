#!/usr/bin/env bash
# Executes every notebooks/*.ipynb headlessly on the Deno Jupyter kernel and exits non-zero if a
# notebook fails (a cell error, or a cell running past the timeout). Installs what is missing:
# Debian's jupyter-nbconvert and python3-nbclient (apt-get, as root or through sudo) and the Deno
# kernelspec (`deno jupyter --install`); deno is the one on PATH if it is 2.9.6, else npx's.
#
#   bash scripts/run_notebooks.sh [NOTEBOOK...]      (default: every notebooks/*.ipynb)
#   NOTEBOOK_TIMEOUT=600   seconds per cell (default 300)
#   NOTEBOOK_OUT=DIR       where the executed copies go (default: a new temporary folder)
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1 DENO_NO_UPDATE_CHECK=1
deno_version=2.9.6
timeout=${NOTEBOOK_TIMEOUT:-300}

# deno: the kernelspec records this binary's path, so resolve npx's wrapper to the real binary
if command -v deno >/dev/null && [[ "$(deno --version 2>/dev/null)" == "deno ${deno_version} "* ]]; then
  deno_bin=$(command -v deno)
else
  deno_bin=$(npx -y "deno@${deno_version}" eval --quiet 'console.log(Deno.execPath())')
fi
echo "deno: $deno_bin ($("$deno_bin" --version | head -1))"

# nbconvert and nbclient from Debian
if ! command -v jupyter-nbconvert >/dev/null || ! /usr/bin/python3 -c 'import nbclient' 2>/dev/null; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "run_notebooks: need root (or sudo) to apt-get install jupyter-nbconvert python3-nbclient" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "installing jupyter-nbconvert python3-nbclient (apt-get)"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    jupyter-nbconvert python3-nbclient >/dev/null
fi

# the Deno kernelspec, (re)written to point at this deno
log=$("$deno_bin" jupyter --install --force 2>&1) || { echo "$log" >&2; exit 1; }
grep -v 'is unstable' <<<"$log" || true

"$deno_bin" install --quiet

if [ $# -gt 0 ]; then notebooks=("$@"); else notebooks=(notebooks/*.ipynb); fi
[ -e "${notebooks[0]}" ] || { echo "run_notebooks: no notebooks found" >&2; exit 1; }
out=${NOTEBOOK_OUT:-$(mktemp -d -t notebooks-XXXXXX)}
mkdir -p "$out"

failed=()
for nb in "${notebooks[@]}"; do
  echo "== $nb"
  start=$SECONDS
  if jupyter-nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=deno \
    --ExecutePreprocessor.timeout="$timeout" --output-dir "$out" "$nb"; then
    echo "ok: $nb ($((SECONDS - start)) s)"
  else
    echo "FAILED: $nb ($((SECONDS - start)) s)"
    failed+=("$nb")
  fi
done
echo "executed notebooks in $out"
echo "notebooks: ${#failed[@]} of ${#notebooks[@]} failed"
[ ${#failed[@]} -eq 0 ]
