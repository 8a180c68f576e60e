"""Value-based scrubbing: every known secret value becomes ``***`` wherever it appears in text.

Key-based redaction (``password=...``) misses a passphrase quoted in an ONTAP error, a traceback or
an ``existing_passphrase`` field a library does not know is secret (ontap-notes §5), so fleet
removes the *values* instead. Every ``Secret`` registers its value here when it is created.

A large fleet registers tens of thousands of values (one password and two passphrases per cluster)
and a 10,000-cluster report is an 18 MB text, so matching must not cost a Python step per character.
An Aho-Corasick automaton (``ahocorasick_rs``, compiled) finds every value in one linear scan of the
text, leftmost-longest. Values registered after the automaton was built are matched by a linear scan
with a dict keyed on each value's first ``MIN_LENGTH`` characters until the next large text rebuilds
the automaton: log lines stay cheap, and a big text never pays a per-character Python loop.

Values shorter than ``MIN_LENGTH`` characters are not scrubbed: replacing every ``"a"`` or ``"12"``
would shred every line and, by what is missing, hint at the value. Such values are not valid ONTAP
passphrases anyway (32+ characters, see ``fleet.secrets.rules``).
"""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import ahocorasick_rs

MASK = "***"
MIN_LENGTH = 4
_MASK_BYTES = MASK.encode()
_ENCODING_ERRORS = "surrogatepass"  # lone surrogates (undecodable bytes) survive the round trip
# Below this many characters the dict scan is as fast as an automaton rebuild is slow.
REBUILD_AT_LENGTH = 4096


def _variants(value: str) -> set[str]:
    """The value plus the spellings it takes once escaped in JSON (ASCII-only or not, as pydantic
    writes it), a ``repr``, a URL or HTML."""
    forms = {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
        quote(value, safe=""),
        quote(value),
        html.escape(value),
    }
    return {form for form in forms if len(form) >= MIN_LENGTH}


class Scrubber:
    """Replaces registered secret values with ``***``; safe to register from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # prefix -> candidate values, longest first; tuples are replaced, never mutated (readers
        # scan without the lock).
        self._by_prefix: dict[str, tuple[str, ...]] = {}
        self._forms: list[str] = []
        # (automaton, how many forms it knows); stale while it knows fewer than ``_forms``.
        self._automaton: tuple[ahocorasick_rs.BytesAhoCorasick | None, int] = (None, 0)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def register(self, value: str) -> None:
        """Scrub ``value`` (and its escaped spellings) from now on."""
        if len(value) < MIN_LENGTH:
            return
        with self._lock:
            for form in _variants(value):
                prefix = form[:MIN_LENGTH]
                known = self._by_prefix.get(prefix, ())
                if form in known:
                    continue
                self._by_prefix[prefix] = tuple(sorted((*known, form), key=len, reverse=True))
                self._forms.append(form)
                self._count += 1

    def register_many(self, values: Iterable[str]) -> None:
        for value in values:
            self.register(value)

    def clear(self) -> None:
        """Forget every value (tests only: in a run, a value once seen stays secret)."""
        with self._lock:
            self._by_prefix = {}
            self._forms = []
            self._automaton = (None, 0)
            self._count = 0

    def scrub(self, text: str) -> str:
        """``text`` with every registered value replaced by ``***`` (leftmost, longest match wins)."""
        if not self._by_prefix or len(text) < MIN_LENGTH:
            return text
        automaton, known = self._automaton
        if known < self._count and len(text) >= REBUILD_AT_LENGTH:
            automaton, known = self._rebuild()
        if automaton is None or known < self._count:
            return self._scan(text)
        # UTF-8 bytes: matching a str makes the library map every character offset (8 bytes per
        # character, 140 MB for a 10,000-cluster report); a valid UTF-8 pattern only matches whole
        # characters, so byte offsets cut the text exactly where character offsets would.
        data = text.encode("utf-8", _ENCODING_ERRORS)
        matches = automaton.find_matches_as_indexes(data)
        if not matches:
            return text
        pieces: list[bytes] = []
        start = 0
        for _, begin, end in matches:
            pieces.append(data[start:begin])
            pieces.append(_MASK_BYTES)
            start = end
        pieces.append(data[start:])
        return b"".join(pieces).decode("utf-8", _ENCODING_ERRORS)

    def prepare(self) -> None:
        """Build the automaton now, for every value registered so far.

        Called once a run's secrets are resolved: the build's transient memory is then taken and
        given back while the process is small, instead of on top of a finished run's records.
        """
        if self._automaton[1] < self._count:
            self._rebuild()

    def _rebuild(self) -> tuple[ahocorasick_rs.BytesAhoCorasick | None, int]:
        with self._lock:
            forms = list(self._forms)
        automaton = ahocorasick_rs.BytesAhoCorasick(
            [form.encode("utf-8", _ENCODING_ERRORS) for form in forms],
            matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
        )
        with self._lock:
            if len(forms) > self._automaton[1] and len(self._forms) >= len(forms):
                self._automaton = (automaton, len(forms))
            return self._automaton

    def _scan(self, text: str) -> str:
        """The dict scan: one Python step per character, for short texts while the automaton is stale."""
        by_prefix = self._by_prefix
        pieces: list[str] = []
        start = 0
        i = 0
        last = len(text) - MIN_LENGTH
        while i <= last:
            candidates = by_prefix.get(text[i : i + MIN_LENGTH])
            if candidates is not None:
                match = next((c for c in candidates if text.startswith(c, i)), None)
                if match is not None:
                    pieces.append(text[start:i])
                    pieces.append(MASK)
                    i += len(match)
                    start = i
                    continue
            i += 1
        if not pieces:
            return text
        pieces.append(text[start:])
        return "".join(pieces)

    def scrub_obj(self, obj: Any) -> Any:
        """A copy of ``obj`` with strings scrubbed inside dicts (keys too), lists, tuples and sets.

        Other objects are returned as they are: renderers turn them into text later, and the log
        chain scrubs that rendered text once more.
        """
        if isinstance(obj, str):
            return self.scrub(obj)
        if isinstance(obj, dict):
            return {self.scrub_obj(k): self.scrub_obj(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.scrub_obj(item) for item in obj]
        if isinstance(obj, tuple):
            return tuple(self.scrub_obj(item) for item in obj)
        if isinstance(obj, set | frozenset):
            return type(obj)(self.scrub_obj(item) for item in obj)
        return obj


SCRUBBER = Scrubber()
"""The process-wide scrubber every ``Secret`` registers with and every output path uses."""
