#!/usr/bin/env bash
# Promote with skopeo: one `skopeo copy --all SRC DST:TAG` per target tag.
#
#   skopeo-tag.sh REGISTRY/REPOSITORY:TAG NEWTAG...
#   (SKOPEO_AUTHFILE: Docker config.json; SKOPEO_CERT_DIR: directory holding ca.crt)
set -euo pipefail
SRC=${1:?usage: skopeo-tag.sh SRC NEWTAG...}
shift
for tag in "$@"; do
  skopeo copy --all --quiet --src-authfile "$SKOPEO_AUTHFILE" --src-cert-dir "$SKOPEO_CERT_DIR" \
    --dest-authfile "$SKOPEO_AUTHFILE" --dest-cert-dir "$SKOPEO_CERT_DIR" \
    "docker://$SRC" "docker://${SRC%:*}:$tag"
done
