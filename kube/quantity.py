"""Kubernetes resource quantities (``500m``, ``512Mi``, ``1G``) to and from the plain
numbers compose keeps (CPUs as a float, memory in bytes)."""

from __future__ import annotations

import math
import re

_SUFFIX = {
    "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "m": 10**-3, "u": 10**-6, "n": 10**-9,
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|"
                       r"k|M|G|T|P|E|m|u|n)?)$")


def parse(text: str | int | float) -> float:
    """A quantity's value: ``"500m"`` -> 0.5, ``"1Gi"`` -> 1073741824.0."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    m = _QUANTITY.match(str(text).strip())
    if not m:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (such as 500m, 256Mi, 1G)")
    number, exponent, suffix = m.groups()
    value = float(number)
    if exponent:
        return value * 10 ** int(exponent[1:])
    return value * _SUFFIX[suffix or ""]


def cpu(cpus: float) -> str:
    """CPUs as Kubernetes writes them: ``0.5`` -> ``500m``, ``2.0`` -> ``2``."""
    milli = max(1, round(cpus * 1000))
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def memory(size: int) -> str:
    """Bytes as the largest binary unit that divides them: ``536870912`` -> ``512Mi``."""
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = _SUFFIX[suffix]
        if size >= unit and size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def seconds(value: float, minimum: int = 1) -> int:
    """A duration in whole seconds, as probes take it (rounded up, at least ``minimum``)."""
    return max(minimum, math.ceil(value - 1e-9))
