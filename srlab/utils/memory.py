"""Resident memory of this process: now, at its peak, and a peak that can be reset (Linux).

A peak measured as ``ru_maxrss`` is the whole life's high-water mark; Linux can reset it to the current
size (``/proc/self/clear_refs`` ← 5), so the peak of one step can be read as ``VmHWM`` afterwards.
Elsewhere the life-long peak is the best available (and says so: :func:`reset_peak_rss` returns False).
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

_STATUS = Path("/proc/self/status")


def _status_mb(field: str) -> float | None:
    """A ``kB`` field of ``/proc/self/status`` in MiB (None where there is no procfs)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 2**10
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Set the peak resident size to the current one; False where the OS cannot (the peak stays life-long)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def current_rss_mb() -> float:
    """The resident set size now, in MiB (the peak where the OS does not tell the current size)."""
    current = _status_mb("VmRSS")
    return peak_rss_mb() if current is None else current


def peak_rss_mb() -> float:
    """The peak resident set size in MiB since start or the last :func:`reset_peak_rss`."""
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 2**10
