#!/usr/bin/env bash
# Promote with regctl: one `regctl image copy SRC REPO:TAG` per target tag (each a fresh
# process; within one repository it only writes the manifest).
#
#   regctl-tag.sh REGISTRY/REPOSITORY:TAG NEWTAG...   (REGCTL=/path/to/regctl)
set -euo pipefail
SRC=${1:?usage: regctl-tag.sh SRC NEWTAG...}
shift
repo=${SRC%:*}
for tag in "$@"; do
  "${REGCTL:-regctl}" image copy "$SRC" "$repo:$tag" >/dev/null
done
