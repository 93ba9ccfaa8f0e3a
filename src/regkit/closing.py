"""``Closing``: an object used in a ``with`` block is closed at the block's end."""

from __future__ import annotations

from typing import Self


class Closing:
    """``with obj:`` gives ``obj`` and calls ``obj.close()`` at the end, also on an error
    (which goes on). A subclass writes ``close``."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError
