"""Everything GitHub-Packages: GHCR (ghcr.io, GitHub Enterprise ``containers.HOST``).

- ``hosts``: which registry is GHCR, which GitHub it belongs to, which token talks to it;
- ``rest``: the package versions through the GitHub REST API (list, get, delete);
- ``prune``: the tag plan of ``regkit.ops.prune`` carried out as package-version deletions;
- ``render``: GHCR plans and results as text and JSON;
- ``backend``: the GHCR prune backend (``regkit.ops.prune.backend``).

``regkit.registry`` knows nothing of GitHub; this package sits beside it, under ``regkit.ops``.
"""
