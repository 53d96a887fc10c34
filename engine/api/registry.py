"""Registries, for front ends: pull, push, login and logout with their typed requests,
results and progress events (``engine/registry``). Importing this module is light:
httpx and trio are imported by the operation that needs them."""

from __future__ import annotations

from ..imagelookup import maybe_present
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
