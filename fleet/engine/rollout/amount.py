"""``N`` or ``P%``: the one amount syntax of waves (``--waves``) and failure budgets (``--max-failures``).

A percentage is exact (a ``Fraction``, never a float: 10% of 30 is 3, not 4) and becomes a count
by rounding **up**, never below 1, so a canary stays a canary and a budget never trips at zero.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from fleet.errors import InputError

_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(%?)")


@dataclass(frozen=True, slots=True)
class Amount:
    """A whole count, or a percentage of a total given later."""

    count: int | None = None
    percent: Fraction | None = None

    def of(self, total: int) -> int:
        """The count for ``total``: a count as is; a percentage rounded up, at least 1."""
        if self.count is not None:
            return self.count
        assert self.percent is not None
        return max(1, math.ceil(self.percent * total / 100))

    def __str__(self) -> str:
        if self.count is not None:
            return str(self.count)
        assert self.percent is not None
        text = str(self.percent) if self.percent.denominator == 1 else format(float(self.percent), "g")
        return f"{text}%"


def parse_amount(text: str, *, field: str, what: str, percent_allowed: bool = True) -> Amount:
    """Parse ``3`` or ``10%``; zero, fractions of a count and percentages above 100 are refused.

    ``what`` names the thing counted in the error ("a wave holds a whole number of units…").
    """
    match = _AMOUNT.fullmatch(text.strip())
    if match is None or (match.group(2) and not percent_allowed):
        shape = "N or P%" if percent_allowed else "a whole number N"
        raise InputError(f"expected {shape}, got {text!r}", field=field)
    number, percent = match.groups()
    if percent:
        value = Fraction(number)
        if not 0 < value <= 100:
            raise InputError(f"a percentage must be above 0 and at most 100, got {text!r}", field=field)
        return Amount(percent=value)
    if "." in number or int(number) < 1:
        raise InputError(f"{what} is a whole number, at least 1, got {text!r}", field=field)
    return Amount(count=int(number))
