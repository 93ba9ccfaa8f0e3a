"""Where a Docker container action can leave files that the job's later steps can use.

A Docker action (``runs.using: docker``) runs in a container that sees the runner's disk only
through the bind mounts the runner makes (actions/runner, ``ContainerActionHandler``)::

    host (runner)                               container
    <RUNNER_TEMP>/_github_home                  /github/home        (HOME points here)
    <RUNNER_TEMP>/_github_workflow              /github/workflow    (GITHUB_EVENT_PATH)
    <RUNNER_TEMP>/_runner_file_commands         /github/file_commands (GITHUB_OUTPUT, GITHUB_ENV,
                                                                      GITHUB_STEP_SUMMARY, ...)
    GITHUB_WORKSPACE (<work>/<repo>/<repo>)     /github/workspace   (working directory)
    <RUNNER_TEMP>                               /github/runner_temp (runners since 2025,
                                                                      actions/runner#4011)

Environment values that start with a mounted host path are rewritten to the container path
(``HOME=/github/home``, ``GITHUB_WORKSPACE=/github/workspace``, ``GITHUB_OUTPUT=/github/
file_commands/...``; ``RUNNER_TEMP=/github/runner_temp`` on runners that mount it, the untouched
host path on older ones, where that path does not exist in the container). ``RUNNER_WORKSPACE``
(``<work>/<repo>``) is not under any mount and keeps its host value.

So a login run as a Docker action cannot write the runner user's ``~/.docker``: the only place
shared with later steps that is also cleaned at the end of the job is under ``RUNNER_TEMP``. It
writes ``/github/home/.docker/config.json`` (on the host: ``<RUNNER_TEMP>/_github_home/.docker``,
emptied with the rest of ``RUNNER_TEMP`` when the job ends) and exports ``DOCKER_CONFIG`` with the
*host* path through ``GITHUB_ENV``: host steps read the host path, and later Docker actions get it
rewritten to ``/github/home/.docker`` by the same translation.

The container also starts as root (GitHub requires it for Docker actions), while the shared
directories belong to the runner's user: :func:`enter_runner_identity` switches to that user first,
so the 0600 config file it writes is readable by the later steps.

Pure decisions (:func:`in_docker_action`, :func:`host_runner_temp`, :func:`docker_config_paths`,
:func:`runner_identity`) take the environment as data; the two small I/O functions look at the
real file system and process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from regkit.errors import RegkitError

GITHUB_HOME = PurePosixPath("/github/home")
GITHUB_WORKSPACE = PurePosixPath("/github/workspace")
GITHUB_FILE_COMMANDS = PurePosixPath("/github/file_commands")
GITHUB_MOUNT_ROOT = PurePosixPath("/github")
HOST_HOME_DIRNAME = "_github_home"  # <RUNNER_TEMP>/_github_home is mounted at /github/home
HOST_TEMP_DIRNAME = "_temp"  # the runner's temp directory is <work>/_temp
DOCKER_CONFIG_DIRNAME = ".docker"


class DockerActionPaths(NamedTuple):
    """Where a Docker action writes the Docker client config, and what to export.

    ``container_dir`` is the directory to write ``config.json`` into, inside the container;
    ``host_dir`` is the same directory as the runner sees it: the value for ``DOCKER_CONFIG`` in
    ``GITHUB_ENV``.
    """

    container_dir: PurePosixPath
    host_dir: PurePosixPath


class DockerActionPathError(RegkitError):
    """Inside a Docker action, but the runner's host path of RUNNER_TEMP cannot be worked out."""


def in_docker_action(env: Mapping[str, str], *, github_home_exists: bool) -> bool:
    """True inside a Docker container action (not on the host, not in a job container).

    Job containers (``jobs.<id>.container``) also set ``HOME=/github/home`` but mount the work
    directory at ``/__w``, so ``GITHUB_WORKSPACE`` tells them apart.
    """
    return (
        env.get("GITHUB_ACTIONS") == "true"
        and env.get("HOME", "").rstrip("/") == str(GITHUB_HOME)
        and env.get("GITHUB_WORKSPACE", "").rstrip("/") == str(GITHUB_WORKSPACE)
        and github_home_exists
    )


def _host_path(value: str | None) -> PurePosixPath | None:
    """``value`` as a usable host path, or None (empty, relative, a container path, unsafe)."""
    if not value:
        return None
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in value):
        return None  # a newline would inject a second variable into GITHUB_ENV
    path = PurePosixPath(value)
    if not path.is_absolute() or ".." in path.parts or path == PurePosixPath("/"):
        return None
    if path == GITHUB_MOUNT_ROOT or GITHUB_MOUNT_ROOT in path.parents:
        return None  # already translated to a container path: says nothing about the host
    if path.parts[1] == "__w":
        return None  # a job container's view of the work directory
    return path


def host_runner_temp(env: Mapping[str, str]) -> PurePosixPath | None:
    """The runner's temp directory as the host sees it, from a Docker action's environment.

    1. ``RUNNER_TEMP`` when the runner left it untranslated (runners that do not mount it);
    2. otherwise ``dirname(RUNNER_WORKSPACE)/_temp``: the runner keeps its temp directory and
       the workspaces side by side in its work directory (``<work>/_temp``, ``<work>/<repo>``),
       and ``RUNNER_WORKSPACE`` is never rewritten.
    """
    temp = _host_path(env.get("RUNNER_TEMP"))
    if temp is not None:
        return temp
    workspace = _host_path(env.get("RUNNER_WORKSPACE"))
    if workspace is not None and workspace.parent != PurePosixPath("/"):
        return workspace.parent / HOST_TEMP_DIRNAME
    return None


def docker_config_paths(
    env: Mapping[str, str], *, github_home_exists: bool
) -> DockerActionPaths | None:
    """Decide where a login inside a Docker action writes the Docker config.

    Returns None when not inside a Docker action (write where the composite action would).
    Raises :class:`DockerActionPathError` inside a Docker action whose host paths are unknown.
    """
    if not in_docker_action(env, github_home_exists=github_home_exists):
        return None
    temp = host_runner_temp(env)
    if temp is None:
        raise DockerActionPathError(
            "running as a Docker action, but neither RUNNER_TEMP nor RUNNER_WORKSPACE gives the "
            "runner's host path, so DOCKER_CONFIG cannot be exported for later steps; use the "
            "composite action ./actions/registry-login instead"
        )
    return DockerActionPaths(
        container_dir=GITHUB_HOME / DOCKER_CONFIG_DIRNAME,
        host_dir=temp / HOST_HOME_DIRNAME / DOCKER_CONFIG_DIRNAME,
    )


def detect_docker_config_paths(env: Mapping[str, str] | None = None) -> DockerActionPaths | None:
    """:func:`docker_config_paths` for this process (``os.environ``, the real ``/github/home``)."""
    return docker_config_paths(
        os.environ if env is None else env,
        github_home_exists=Path(GITHUB_HOME).is_dir(),
    )


def runner_identity(current_uid: int, owner_uid: int, owner_gid: int) -> tuple[int, int] | None:
    """The (uid, gid) to switch to, or None to stay as we are.

    A Docker action starts as root; the directories the runner shares belong to the runner's
    user. Switching to that user makes everything written there (outputs, the summary, the Docker
    config) belong to the user whose later steps read it. Nothing to do when not root, or when the
    runner itself runs as root.
    """
    if current_uid != 0 or owner_uid == 0:
        return None
    return owner_uid, owner_gid


def enter_runner_identity(
    env: Mapping[str, str] | None = None,
    *,
    github_home: Path = Path(GITHUB_HOME),
    shared_dir: Path = Path(GITHUB_FILE_COMMANDS),
) -> tuple[int, int] | None:
    """Inside a Docker action started as root, become the owner of the runner's shared directory.

    Call it first in ``regkit action`` (before reading inputs or writing anything). Returns the
    (uid, gid) switched to, or None when nothing changed. Irreversible for the process.
    """
    environ = os.environ if env is None else env
    if not in_docker_action(environ, github_home_exists=github_home.is_dir()):
        return None
    try:
        st = shared_dir.stat()
    except OSError:
        return None
    identity = runner_identity(os.getuid(), st.st_uid, st.st_gid)
    if identity is not None:
        uid, gid = identity
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    return identity
