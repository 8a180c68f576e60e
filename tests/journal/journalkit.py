"""Types and constants the journal tests share with their fixtures (``conftest``)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from fleet.journal import Journal

#: The team's shared fingerprint key for PostgreSQL journals in these tests (``--journal-key``).
PG_KEY = secrets.token_bytes(32)
#: ``await open_journal(clock=...)``: the test's journal (a new handle each call).
OpenJournal = Callable[..., Awaitable[Journal]]
#: ``await raw_sql("SELECT ... WHERE id = ?", 3)``: the database outside fleet.
RawSql = Callable[..., Awaitable[list[tuple[Any, ...]]]]
