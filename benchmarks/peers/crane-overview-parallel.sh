#!/usr/bin/env bash
# The overview loop with crane made as fast as a shell gets: the same `crane catalog`,
# `crane ls`, `crane config` per tag, but JOBS crane processes at once (xargs -P).
#
#   crane-overview-parallel.sh REGISTRY [JOBS]   (CRANE=/path/to/crane; needs jq)
set -euo pipefail
REGISTRY=${1:?usage: crane-overview-parallel.sh REGISTRY [JOBS]}
JOBS=${2:-16}
export CRANE=${CRANE:-crane}

for repo in $("$CRANE" catalog "$REGISTRY"); do
  echo "== $REGISTRY/$repo"
  "$CRANE" ls "$REGISTRY/$repo" | sed "s|^|$REGISTRY/$repo:|" |
    xargs -P "$JOBS" -n 1 sh -c '
      config=$("$CRANE" config "$0")
      printf "%s\t%s\n" "${0##*:}" "$(printf %s "$config" | jq -r "[.config.Labels[\"org.opencontainers.image.created\"] // .created, .config.Labels[\"org.opencontainers.image.description\"] // \"-\"] | join(\"\t\")")"
    '
done
