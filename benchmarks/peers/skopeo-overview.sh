#!/usr/bin/env bash
# The overview with skopeo (which has no catalog): `skopeo list-tags`, then one
# `skopeo inspect` per tag (for an index, the linux/amd64 image), jq for CREATED and DESCRIPTION.
#
#   skopeo-overview.sh REGISTRY REPOSITORY...
#   (SKOPEO_AUTHFILE: Docker config.json; SKOPEO_CERT_DIR: directory holding ca.crt; needs jq)
set -euo pipefail
REGISTRY=${1:?usage: skopeo-overview.sh REGISTRY REPOSITORY...}
shift
flags=(--authfile "${SKOPEO_AUTHFILE:?}" --cert-dir "${SKOPEO_CERT_DIR:?}" --tls-verify=true)

for repo in "$@"; do
  echo "== $REGISTRY/$repo"
  printf '%-10s %-22s %s\n' TAG CREATED DESCRIPTION
  for tag in $(skopeo list-tags "${flags[@]}" "docker://$REGISTRY/$repo" | jq -r '.Tags[]'); do
    info=$(skopeo inspect "${flags[@]}" "docker://$REGISTRY/$repo:$tag")
    created=$(jq -r '.Labels["org.opencontainers.image.created"] // .Created // "-"' <<<"$info")
    description=$(jq -r '.Labels["org.opencontainers.image.description"] // "-"' <<<"$info")
    printf '%-10s %-22s %s\n' "$tag" "$created" "$description"
  done
  echo
done
