"""How numbers read wherever a person reads them: the terminal's tables and the HTML report
share these (settings read through ``steps.costs.setting_text`` and sort by its
``setting_sort_key``)."""

from __future__ import annotations

import math
from typing import Any


def money(value: Any, compact: bool = False) -> str:
    """Money per decision with thousands separators and cents (``13,336.76``); ``compact``
    drops the cents from 100 up, for plot labels. Not a number: ``-``."""
    if (
        value is None
        or isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
    ):
        return "-"
    return f"{value:,.0f}" if compact and abs(value) >= 100 else f"{value:,.2f}"


def number_or_none(text: str | None) -> float | None:
    """A metadata text (the registry keeps values as text) as a number, else None."""
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None
