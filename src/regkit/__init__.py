"""regkit: operate a self-hosted Docker registry from GitHub Actions and a shell."""

from regkit.errors import RegkitError

__version__ = "0.1.0"

__all__ = ["RegkitError", "__version__"]
