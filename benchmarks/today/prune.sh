#!/usr/bin/env bash
# The team's prune flow today, reproduced for the benchmarks: for every short-SHA tag,
# `crane config` (created time) and `crane digest`; sort newest first and keep KEEP; then for
# every older tag `crane digest` again and `crane delete REPO@DIGEST`. One crane process per
# step. (Deleting by digest also removes every other tag on that digest: the flaw
# `regkit prune` fixes. The benchmark's images have distinct digests, so both delete the same.)
#
#   prune.sh REGISTRY/REPOSITORY [KEEP]   (CRANE=/path/to/crane to pick the binary; needs jq)
set -euo pipefail
REPO=${1:?usage: prune.sh REGISTRY/REPOSITORY [KEEP]}
KEEP=${2:-6}
CRANE=${CRANE:-crane}

tags=$("$CRANE" ls "$REPO" | grep -E '^[0-9a-f]{7}$' || true)

plan=$(
  for tag in $tags; do
    created=$("$CRANE" config "$REPO:$tag" |
      jq -r '.config.Labels["org.opencontainers.image.created"] // .created')
    digest=$("$CRANE" digest "$REPO:$tag")
    printf '%s\t%s\t%s\n' "$created" "$tag" "$digest"
  done | sort -r
)

printf '%s\n' "$plan" | tail -n +$((KEEP + 1)) | while IFS=$'\t' read -r created tag _; do
  [ -n "$tag" ] || continue
  digest=$("$CRANE" digest "$REPO:$tag")
  echo "deleting $REPO:$tag (created $created) $digest"
  "$CRANE" delete "$REPO@$digest"
done
