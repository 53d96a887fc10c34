"""Named volumes, for front ends (worked on in the caller's process, under the
volume store's lock)."""

from __future__ import annotations

from ..volumes import VolumeStore

__all__ = ["VolumeStore"]
