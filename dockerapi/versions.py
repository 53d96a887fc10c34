"""The API versions this service speaks, and the ``/vX.Y`` prefix of a request.

A client names its version in the path (``/v1.45/containers/json``) after asking
``/_ping`` for ours (the ``API-Version`` header): the docker CLI and docker-py both
negotiate down to :data:`API_VERSION`. A request without a prefix is answered at ours.
Versions below :data:`MIN_VERSION` or above ours are refused as docker refuses them.
"""

from __future__ import annotations

import re

from .http import ApiError

#: the Engine API version served: docker 27's
API_VERSION = "1.47"
#: the oldest client version answered (docker's own minimum)
MIN_VERSION = "1.24"

_PREFIX = re.compile(r"^/v(\d+\.\d+)(/.*)?$")


def parse(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)


def at_least(version: str, other: str) -> bool:
    return parse(version) >= parse(other)


def split_prefix(path: str) -> tuple[str, str]:
    """(version, path without the prefix); ours when there is no prefix."""
    m = _PREFIX.match(path)
    if not m:
        return API_VERSION, path
    version, rest = m.group(1), m.group(2) or "/"
    if parse(version) < parse(MIN_VERSION):
        raise ApiError(400, f"client version {version} is too old. Minimum supported API "
                            f"version is {MIN_VERSION}, please upgrade your client to a "
                            "newer version")
    if parse(version) > parse(API_VERSION):
        raise ApiError(400, f"client version {version} is too new. Maximum supported API "
                            f"version is {API_VERSION}")
    return version, rest
