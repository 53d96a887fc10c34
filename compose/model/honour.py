"""The keys that load and validate but that the engine does not act on yet.

One place, so that ``up`` can warn naming them ("services.web.gpus is not supported
yet and is ignored") and so that supporting a key is one line removed here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .project import Project

#: Dotted paths below a service (``deploy.placement``) or at the top (``models``).
NOT_HONOURED: frozenset[str] = frozenset({
    # service keys
    "blkio_config", "cpu_count", "cpu_percent", "cpu_rt_period", "cpu_rt_runtime",
    "credential_spec", "external_links", "gpus",
    "isolation", "mac_address", "models", "oom_kill_disable", "platform", "pre_start",
    "provider", "pull_refresh_after", "runtime", "storage_opt",
    "use_api_socket", "userns_mode", "cgroup_parent",
    # below a service
    "deploy.placement", "deploy.update_config", "deploy.rollback_config",
    "deploy.endpoint_mode", "deploy.resources.reservations", "build.platforms",
    "build.cache_to", "build.ssh", "build.secrets", "build.entitlements",
    "build.provenance", "build.sbom", "build.no_cache_filter", "build.additional_contexts",
    "volumes[].volume.subpath",
    # top level
    "top:models",
})


def _is_set(obj: Any, dotted: str) -> bool:
    head, _, rest = dotted.partition(".")
    if head.endswith("[]"):
        return any(_is_set(item, rest) for item in getattr(obj, head[:-2], None) or [])
    value = getattr(obj, head, None)
    if not rest:
        return value not in (None, [], {})
    return value is not None and _is_set(value, rest)


def unhonoured_keys(project: Project) -> list[str]:
    """Key paths set in the project that the engine ignores, e.g.
    ``services.web.deploy.placement``; sorted, for one warning each."""
    found: list[str] = []
    for name, svc in sorted(project.services.items()):
        for dotted in sorted(NOT_HONOURED):
            if not dotted.startswith("top:") and _is_set(svc, dotted):
                found.append(f"services.{name}.{dotted.replace('[]', '[*]')}")
    if project.models:
        found.append("models")
    return found
