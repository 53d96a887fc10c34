"""Registries, for front ends: pull, push, login and logout with their typed requests,
results and progress events (``engine/registry``), and the quick "is this image here?"
look that ``container run`` makes before create.

Importing this module is light: ``maybe_present`` is a read of index.json; everything
else (a dozen dataclasses, then httpx and trio) is imported when first used, because
every ``container run`` imports this module to look for its image.
"""

from __future__ import annotations

from ..imagelookup import maybe_present

TYPE_CHECKING = False  # not typing's: the thin client imports this module
if TYPE_CHECKING:
    from typing import Any

    from ..registry import (
        LoginRequest,
        Platform,
        PullRequest,
        PushRequest,
        login,
        logout,
        pull_image,
        push_image,
    )
    from ..registry.types import Event, ImageMessage, PulledImage

__all__ = ["Event", "ImageMessage", "LoginRequest", "Platform", "PullRequest", "PulledImage",
           "PushRequest", "login", "logout", "maybe_present", "pull_image", "push_image"]


def __getattr__(name: str) -> Any:
    """The registry's names, imported on first use."""
    if name not in __all__:
        raise AttributeError(name)
    from .. import registry

    return getattr(registry, name)
