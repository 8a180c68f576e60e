"""The one seam between the journal's API and where its rows live.

``Journal`` knows its tables, not its transport: every call is one *operation*, a function of a
database connection, handed to ``write`` (runs atomically and is durable when the await returns)
or ``read`` (sees every write whose await has returned). That is the whole contract, so a second
backend is a new implementation of ``JournalStorage``, not a new ``Journal``.

Honest limits: operations receive a ``sqlite3.Connection`` today and speak SQLite's SQL with ``?``
placeholders. The statements stay inside what PostgreSQL also speaks (``INSERT ... ON CONFLICT``,
``RETURNING``, partial indexes), but a PostgreSQL backend would still bring a connection adapter and
its own migrations; the ``Connection`` alias below is where it would widen.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Protocol, TypeVar

T = TypeVar("T")

#: What an operation is given. A Protocol both backends satisfy would replace this alias.
Connection = sqlite3.Connection
Operation = Callable[[Connection], T]


class JournalStorage(Protocol):
    """Runs journal operations; each ``write`` is atomic and committed before it returns."""

    @property
    def commits(self) -> int:
        """Transactions committed so far (group commit makes this far below the number of calls)."""
        ...

    async def write(self, operation: Operation[T]) -> T:
        """Run ``operation`` in a write transaction; return once it is durable."""
        ...

    async def read(self, operation: Operation[T]) -> T:
        """Run ``operation`` against committed state; it must not write."""
        ...

    async def close(self) -> None:
        """Finish queued operations and release the storage. Idempotent."""
        ...
