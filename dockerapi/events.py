"""``GET /events``: placeholder until the engine's events are merged."""

from __future__ import annotations

from .routes import Route

ROUTES: list[Route] = []
