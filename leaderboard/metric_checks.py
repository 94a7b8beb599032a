"""What a stored or compared metric value may be.

Every metric psalm-bench writes is a percentage in [0, 100] except the decays
(a difference of two percentages, [-100, 100]) and CIDEr (x100 of a score up to
10). A NaN, an infinity or a value outside its range is not a measurement: it
is refused before it reaches the board or a comparison. ``null`` stays allowed,
it is how the toolkit writes an undefined metric.
"""

from __future__ import annotations

import math


def metric_range(name: str) -> tuple[float, float]:
    """The closed interval a metric named ``name`` lies in."""
    lowered = name.lower()
    if "decay" in lowered:
        return (-100.0, 100.0)
    if lowered.startswith("cider"):
        return (0.0, 1000.0)
    return (0.0, 100.0)


def metric_problem(name: str, value: object) -> str | None:
    """Why ``value`` cannot be the metric ``name`` (None when it can)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be a number or null, got {value!r}"
    number = float(value)
    if math.isnan(number):
        return "is NaN (write an undefined metric as null)"
    if math.isinf(number):
        return f"is {'+' if number > 0 else '-'}infinity"
    low, high = metric_range(name)
    if not low <= number <= high:
        return f"is {number:g}, outside its range [{low:g}, {high:g}]"
    return None
