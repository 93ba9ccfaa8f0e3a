#!/usr/bin/env bash
# Finds a Python 3.11 or newer and runs install.py with it (every composite action's first step).
# Looks at python3, python3.13, python3.12, python3.11 on PATH, then the hosted tool cache
# ($RUNNER_TOOL_CACHE/Python/<version>/<arch>/bin/python3, where actions/setup-python puts them),
# newest first. Linux runners only: the lock has no Windows or macOS wheels.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
os=${RUNNER_OS:-$(uname -s)}
arch=${RUNNER_ARCH:-$(uname -m)}
case "$os" in
  Linux) ;;
  Windows | MINGW* | MSYS* | CYGWIN*)
    echo "::error::regkit's actions run on Linux runners only (requirements.lock has no Windows wheels): use runs-on: ubuntu-latest"
    exit 1 ;;
  macOS | Darwin)
    case "$arch" in ARM64 | arm64 | aarch64) kind="Apple silicon (untested)" ;; *) kind="Intel" ;; esac
    echo "::error::regkit's actions run on Linux runners only, not macOS $kind: the lock has no wheels for it; use runs-on: ubuntu-latest"
    exit 1 ;;
  *)
    echo "::error::regkit's actions run on Linux runners only, not $os: use runs-on: ubuntu-latest"
    exit 1 ;;
esac

ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; }

candidates=()
for name in python3 python3.13 python3.12 python3.11; do
  if found=$(command -v "$name" 2>/dev/null); then candidates+=("$found"); fi
done
if [ -n "${RUNNER_TOOL_CACHE:-}" ] && [ -d "$RUNNER_TOOL_CACHE/Python" ]; then
  while IFS= read -r found; do candidates+=("$found"); done < <(
    find "$RUNNER_TOOL_CACHE/Python" -mindepth 4 -maxdepth 4 -path '*/bin/python3' 2>/dev/null |
      sort -V -r
  )
fi
for python in "${candidates[@]}"; do
  if ok "$python"; then
    exec "$python" "$here/install.py" "$@"
  fi
done
echo "::error::no Python 3.11 or newer found (python3, python3.13, python3.12, python3.11, \$RUNNER_TOOL_CACHE/Python): add actions/setup-python with python-version: '3.12' before this action"
exit 1
