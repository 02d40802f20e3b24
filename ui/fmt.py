"""How numbers are printed on every page, declared once: probabilities as percentages down to 0.1%
("< 0.1%" below it, never 0.00000000000000000000000000009), counts with thousands separators
(246,989), and "—" where a value is missing (never "None" or "nan")."""
from __future__ import annotations

import math

MISSING = "—"             # a missing value, in text and as st.dataframe's placeholder=
COUNT = "%,d"             # st.column_config.NumberColumn(format=COUNT): 246,989
PERCENT = "%.1f%%"        # NumberColumn(format=PERCENT) on 100 x a share: 62.5%
SMALLEST = 0.001          # the smallest probability printed as a number: 0.1%


def _absent(x) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def missing() -> str:
    return MISSING


def pct(p: float | None) -> str:
    """A probability (or share) in [0, 1] as a percentage with one decimal: "62.5%"; "< 0.1%" and
    "> 99.9%" at the ends (so a 1e-29 never prints as 0.0% beside a 100.0% that is not quite 1);
    exactly 0 and 1 stay "0%" and "100%"."""
    if _absent(p):
        return MISSING
    if p <= 0:
        return "0%"
    if p >= 1:
        return "100%"
    if p < SMALLEST:
        return "< 0.1%"
    if p > 1 - SMALLEST:
        return "> 99.9%"
    return f"{100 * p:.1f}%"


def posterior(p: float | None, n: int) -> str:
    """One of n probabilities from a softmax over finite scores (who said it): never exactly 0 or 1
    when n > 1, so a float that rounded there reads "< 0.1%" or "> 99.9%", never "100%" beside
    another's "< 0.1%"."""
    return pct(p if n < 2 or _absent(p) else min(max(p, 1e-12), 1 - 1e-12))


def count(n: int | float | None) -> str:
    """A count with thousands separators: 246,989."""
    return MISSING if _absent(n) else f"{int(n):,}"


def number(x: float | None, digits: int = 3) -> str:
    """A measurement (a loss, a ratio) with `digits` decimals and thousands separators."""
    return MISSING if _absent(x) else f"{x:,.{digits}f}"


def surname(name: str) -> str:
    """A president's last name, as a short label: "Joseph R. Biden Jr." -> "Biden"."""
    words = name.split()
    return words[-1] if len(words) < 2 or words[-1] not in ("Jr.", "Sr.") else words[-2]
