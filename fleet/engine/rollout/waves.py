"""Waves: a canary first, then wider and wider, each wave a barrier before the next.

``--waves 1,5,10%,100%`` lists wave sizes, each a unit count or a percentage of *all* units of the
run. Percentages round **up** and a wave is never empty (at least 1 unit), so a canary stays a
canary on a small fleet and a wave is never silently dropped. The last wave listed takes every
unit left over, whatever its own size says; waves that would start after every unit is placed are
dropped. A MetroCluster pair is one unit: it counts once and is never split across waves.

Worked examples (what ``wave_sizes`` returns; ``tests/engine/test_waves.py`` checks this table):

    ==================  =====  =================  ===================================================
    --waves             units  sizes              why
    ==================  =====  =================  ===================================================
    1,5,10%,100%        100    1, 5, 10, 84       10% of 100 = 10; the last wave takes the rest
    1,5,10%,100%        7      1, 5, 1            10% of 7 = 0.7 → 1; nothing is left for 100%
    1,5,10%,100%        3      1, 2               the 5-unit wave only gets the 2 left
    1,10%               1000   1, 999             the last wave listed takes the rest
    10%,10%,100%        25     3, 3, 19           10% of 25 = 2.5 → 3 (up)
    1%,100%             30     1, 29              1% of 30 = 0.3 → 1 (never empty)
    2.5%,100%           200    5, 195             fractions of a percent are allowed
    33%,33%,33%         10     4, 4, 2            33% of 10 = 3.3 → 4; the last takes the 2 left
    (none)              12     12                 no --waves: one wave of every unit
    ==================  =====  =================  ===================================================

Percentages are computed with exact fractions, never floats: 10% of 30 is 3, not 4.
Unlike Ansible's ``serial``, percentages are of all units (not of those left) and the last size
does not repeat: to repeat a size, list it again (``1,10%,10%,10%,100%``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fleet.engine.rollout.amount import Amount, parse_amount
from fleet.engine.rollout.units import Unit
from fleet.errors import InputError

WaveSize = Amount
"""One entry of ``--waves``: a count of units, or a percentage of all units (``size.of(total)``)."""


@dataclass(frozen=True, slots=True)
class WaveSpec:
    """The parsed ``--waves`` list; ``str()`` gives it back in the same syntax (for the journal)."""

    sizes: tuple[WaveSize, ...]

    def __str__(self) -> str:
        return ",".join(str(size) for size in self.sizes)


def parse_waves(text: str, *, field: str = "--waves") -> WaveSpec:
    """Parse ``1,5,10%,100%``; a bad entry is an input error naming the option."""
    entries = [entry.strip() for entry in text.split(",")]
    if not text.strip() or any(not entry for entry in entries):
        raise InputError(f"expected a comma-separated list such as 1,5,10%,100%, got {text!r}", field=field)
    return WaveSpec(tuple(parse_amount(entry, field=field, what="a wave's size") for entry in entries))


def wave_sizes(spec: WaveSpec | None, total: int) -> list[int]:
    """The size of each wave for ``total`` units (see the table in the module docstring)."""
    if total <= 0:
        return []
    if spec is None:
        return [total]
    sizes: list[int] = []
    left = total
    for position, size in enumerate(spec.sizes):
        last = position == len(spec.sizes) - 1
        take = left if last else min(left, size.of(total))
        sizes.append(take)
        left -= take
        if left == 0:
            break
    return sizes


def assign_waves(units: Sequence[Unit], spec: WaveSpec | None) -> dict[str, int]:
    """Wave index (1-based, in unit order) of every unit: the canary is the first unit(s) listed."""
    wave_of: dict[str, int] = {}
    position = 0
    for index, size in enumerate(wave_sizes(spec, len(units)), start=1):
        for unit in units[position : position + size]:
            wave_of[unit.id] = index
        position += size
    return wave_of


def group_by_wave(units: Sequence[Unit], wave_of: Mapping[str, int]) -> list[tuple[int, list[Unit]]]:
    """Units grouped into their waves, in wave order, unit order kept inside each wave.

    A resumed run passes the waves its units had the first night, so it keeps the same waves even
    though fewer units remain; a unit with no recorded wave joins the last one.
    """
    last = max(wave_of.values(), default=1)
    grouped: dict[int, list[Unit]] = {}
    for unit in units:
        grouped.setdefault(wave_of.get(unit.id, last), []).append(unit)
    return sorted(grouped.items())
