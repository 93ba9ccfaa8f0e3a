#!/usr/bin/env bash
# The overview with regctl: `regctl tag ls`, then one `regctl image config` per tag (for an
# index, the linux/amd64 image), jq for CREATED and DESCRIPTION.
#
#   regctl-overview.sh REGISTRY REPOSITORY...
#   (REGCTL=/path/to/regctl; credentials from DOCKER_CONFIG, the CA from SSL_CERT_FILE; needs jq)
set -euo pipefail
REGISTRY=${1:?usage: regctl-overview.sh REGISTRY REPOSITORY...}
shift
regctl=${REGCTL:-regctl}

for repo in "$@"; do
  echo "== $REGISTRY/$repo"
  printf '%-10s %-22s %s\n' TAG CREATED DESCRIPTION
  for tag in $("$regctl" tag ls "$REGISTRY/$repo"); do
    info=$("$regctl" image config --platform linux/amd64 --format raw-body "$REGISTRY/$repo:$tag")
    created=$(jq -r '.config.Labels["org.opencontainers.image.created"] // .created // "-"' <<<"$info")
    description=$(jq -r '.config.Labels["org.opencontainers.image.description"] // "-"' <<<"$info")
    printf '%-10s %-22s %s\n' "$tag" "$created" "$description"
  done
  echo
done
