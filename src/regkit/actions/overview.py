"""``regkit action overview``: every repository's tags (``regkit overview``) in the job summary.

Inputs: ``registry`` (required), ``images`` (repositories, newline or comma separated; empty or
``*`` for every repository of the catalog), ``ca-file``, ``jobs``. Credentials come from the
Docker config (``DOCKER_CONFIG``, as the login action leaves it); they are masked before anything
is printed. The log gets the text table in a group; the summary one Markdown table per
repository, every cell escaped, at most ``gha.SUMMARY_ROWS`` rows in all (the runner drops a
summary over 1 MiB); the whole overview (``regkit overview -o json``) goes to a JSON file under
``RUNNER_TEMP``, named by the output ``json-file``. Outputs: ``repositories``, ``tags``,
``json-file``.
"""

from __future__ import annotations

from regkit import gha
from regkit.errors import UsageError
from regkit.ops import DEFAULTS, ConnectOptions, connect, resolve_credentials
from regkit.ops import overview as ops
from regkit.reference import parse_repository, validate_host


def repositories(images: list[str], registry: str) -> list[str] | None:
    """The repositories asked for (validated), or None for every repository."""
    if not images or images == ["*"]:
        return None
    names = []
    for image in images:
        ref = parse_repository(image, default_registry=registry)
        if ref.registry != registry:
            raise UsageError(
                f"input 'images' names {image!r} on {ref.registry}, not on input 'registry' "
                f"{registry}: give repositories of one registry"
            )
        names.append(ref.repository)
    return names


def main(inputs: gha.Inputs) -> None:
    registry = validate_host(inputs.require("registry"))
    wanted = repositories(inputs.get_list("images"), registry)
    options = ConnectOptions(
        ca_file=inputs.get("ca-file"),
        jobs=inputs.get_int("jobs", DEFAULTS.jobs, minimum=1, maximum=256),
    )
    creds = resolve_credentials(registry, options)
    if creds is not None:
        gha.mask(creds.password)  # masks first
        gha.mask(creds.basic_token())
    with connect(registry, options) as client:
        overview = ops.collect(client, wanted)
    with gha.group(f"overview of {registry}"):
        gha.info(ops.render_table(overview).rstrip("\n"))
    json_file = gha.temp_file("regkit-overview-", ".json", ops.render_json(overview))
    gha.info(f"the overview as JSON: {json_file}")
    gha.summary.heading(f"Registry overview: {registry}", 2)
    rows_left = gha.SUMMARY_ROWS
    for repo in overview.repositories:
        gha.summary.heading(f"{registry}/{repo.name}", 3)
        if not repo.tags:
            gha.summary.text("no tags")
            continue
        shown, hidden = gha.cap_rows([ops.table_cells(row) for row in repo.tags], rows_left)
        rows_left -= len(shown)
        if shown:
            gha.summary.table(ops.HEADERS, shown)
        if hidden:
            gha.summary.text(
                f"{hidden} more {'tag' if hidden == 1 else 'tags'} not shown (the summary shows "
                f"{gha.SUMMARY_ROWS} rows in all): every tag is in the JSON file, output json-file."
            )
    tags = sum(len(repo.tags) for repo in overview.repositories)
    gha.set_output("repositories", str(len(overview.repositories)))
    gha.set_output("tags", str(tags))
    gha.set_output("json-file", json_file)
