#!/usr/bin/env bash
# The team's `task registry:overview` today, reproduced for the benchmarks: `crane catalog`,
# `crane ls` per repository, then one `crane config` per tag (a fresh process and fresh TLS
# connections each time), with jq pulling CREATED (label org.opencontainers.image.created, else
# the config's created) and DESCRIPTION (label org.opencontainers.image.description).
#
#   overview.sh REGISTRY        (CRANE=/path/to/crane to pick the binary; needs jq)
set -euo pipefail
REGISTRY=${1:?usage: overview.sh REGISTRY}
CRANE=${CRANE:-crane}

for repo in $("$CRANE" catalog "$REGISTRY"); do
  echo "== $REGISTRY/$repo"
  printf '%-10s %-22s %s\n' TAG CREATED DESCRIPTION
  for tag in $("$CRANE" ls "$REGISTRY/$repo"); do
    config=$("$CRANE" config "$REGISTRY/$repo:$tag")
    created=$(jq -r '.config.Labels["org.opencontainers.image.created"] // .created // "-"' <<<"$config")
    description=$(jq -r '.config.Labels["org.opencontainers.image.description"] // "-"' <<<"$config")
    printf '%-10s %-22s %s\n' "$tag" "$created" "$description"
  done
  echo
done
