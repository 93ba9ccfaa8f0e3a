#!/usr/bin/env bash
# Promote with crane: one `crane tag SRC TAG` per target tag (each a fresh process).
#
#   crane-tag.sh REGISTRY/REPOSITORY:TAG NEWTAG...   (CRANE=/path/to/crane)
set -euo pipefail
SRC=${1:?usage: crane-tag.sh SRC NEWTAG...}
shift
for tag in "$@"; do
  "${CRANE:-crane}" tag "$SRC" "$tag"
done
