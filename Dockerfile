# regkit in a container: the image behind the Docker action at the repository root (action.yml).
#
# The base: the official slim image pinned by digest (python:3.12.7-slim-bookworm), in a stage of
# its own so that the line is a plain FROM that Dependabot reads and updates (.github/
# dependabot.yml, docker ecosystem: a pull request with the new digest when the image moves).
# ARG BASE names what the stages build on: that stage by default; CI builds from a base made
# locally instead (scripts/build-docker-action debootstraps Debian bookworm with Debian's python3
# and passes BASE=localhost/pybase:bookworm; the unused stage is skipped). Everything is installed
# into a venv made with `python3 -m venv`, so the same file works on both bases (PEP 668; no
# /usr/local/bin/python).
#
# Targets:
#   runtime  the CLI image: non-root (USER 10001:10001), entry point `regkit`.
#   action   (default, last) the same image for `runs.using: docker`; see the note there.
ARG BASE=python-base

FROM python:3.12.7-slim-bookworm@sha256:032c52613401895aa3d418a4c563d2d05f993bc3ecc065c8f4e2280978acd249 AS python-base

FROM ${BASE} AS builder
# Optional, for builds behind a TLS-intercepting proxy: a CA bundle path inside the build
# (scripts/build-docker-action mounts the host bundle there). Unset: pip's own default.
ARG PIP_CERT
# Dependencies and the build backend first (cached until a lock file changes), every file checked
# against its hash: requirements.lock (runtime) and requirements-build.lock (setuptools, wheel,
# setuptools-scm and what they need: the entries of requirements-dev.lock).
COPY requirements.lock requirements-build.lock /src/
RUN if [ -z "${PIP_CERT:-}" ]; then unset PIP_CERT; fi \
    && python3 -m venv /opt/regkit \
    && /opt/regkit/bin/python -m pip install --no-cache-dir --disable-pip-version-check \
        --require-hashes --only-binary=:all: -r /src/requirements.lock \
        -r /src/requirements-build.lock
# Then regkit itself, without touching the dependency set and with the hash-checked backend
# (no build isolation: nothing is downloaded); pip and the backend leave the venv before it is
# copied. The build context has no git metadata: the version is REGKIT_VERSION when given (the
# release workflow passes the tag's), else pyproject.toml's fallback_version (setuptools-scm).
ARG REGKIT_VERSION
COPY pyproject.toml README.m[d] /src/
COPY src /src/src
RUN if [ -z "${PIP_CERT:-}" ]; then unset PIP_CERT; fi \
    && if [ -n "${REGKIT_VERSION:-}" ]; then \
        export SETUPTOOLS_SCM_PRETEND_VERSION_FOR_REGKIT="$REGKIT_VERSION"; fi \
    && /opt/regkit/bin/python -m pip install --no-cache-dir --disable-pip-version-check \
        --no-deps --no-build-isolation /src \
    && /opt/regkit/bin/python -m pip uninstall --yes pip setuptools wheel packaging \
        setuptools-scm vcs-versioning \
    && rm -rf /root/.cache

FROM ${BASE} AS runtime
COPY --from=builder /opt/regkit /opt/regkit
ENV PATH=/opt/regkit/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
ENTRYPOINT ["/opt/regkit/bin/regkit"]

# The Docker action. GitHub documents that Docker actions must run as the default Docker user
# (root): the runner mounts /github/workspace, /github/home and /github/file_commands
# (GITHUB_OUTPUT, GITHUB_ENV, GITHUB_STEP_SUMMARY) from the host, owned by the runner's own user,
# so a fixed non-root UID cannot write the step's outputs. The container therefore starts as
# root, and `regkit action` switches to the owner of /github/file_commands (the runner's user)
# before doing anything else (regkit.dockerpaths.enter_runner_identity), so what it writes on the
# shared directories belongs to the runner's user and later steps can read it.
FROM runtime AS action
# Root on purpose (see above): DL3002 warns about a last USER of root.
# hadolint ignore=DL3002
USER 0:0
CMD ["action"]
