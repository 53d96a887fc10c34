"""Names and labels as Kubernetes allows them, and the labels pycompose puts on what it
makes (so that ``kube down`` finds exactly its own objects).

Compose names allow ``_``, ``.`` and capitals; Kubernetes object names are DNS labels
(RFC 1123: lowercase letters, digits and ``-``, at most 63). A name that has to change
is changed the same way every time, and the caller warns when it did.
"""

from __future__ import annotations

import hashlib
import re

LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_COMPONENT = "app.kubernetes.io/component"
MANAGER = "pycompose"
#: ``network.pycompose.io/NETWORK: "true"`` on a pod: it is on that compose network.
NETWORK_PREFIX = "network.pycompose.io/"
#: The compose service an object came from, as written (before any renaming).
ANNOTATION_SERVICE = "pycompose.io/service"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                        r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def is_dns_label(name: str) -> bool:
    return len(name) <= 63 and bool(_DNS_LABEL.match(name))


def dns_label(name: str, limit: int = 63) -> str:
    """``My_DB.1`` -> ``my-db-1``; a name cut to ``limit`` keeps a short hash of the
    whole so that two long names stay apart."""
    out = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    out = re.sub(r"-{2,}", "-", out) or "x"
    if not out[0].isalpha() and not out[0].isdigit():
        out = "x" + out
    if len(out) > limit:
        digest = hashlib.sha256(name.encode()).hexdigest()[:6]
        out = out[:limit - 7].rstrip("-") + "-" + digest
    return out


def is_label_value(value: str) -> bool:
    return len(value) <= 63 and bool(_LABEL_VALUE.match(value))


def is_qualified_key(key: str) -> bool:
    """A label or annotation key: ``[prefix/]name``, name at most 63, prefix a DNS name."""
    prefix, _, name = key.rpartition("/")
    return len(name) <= 63 and len(prefix) <= 253 and bool(_QUALIFIED.match(key))


def project_labels(project: str) -> dict[str, str]:
    """The labels every object of a project carries: ``kube down`` selects on them."""
    return {LABEL_INSTANCE: dns_label(project), LABEL_MANAGED_BY: MANAGER}


def selector(project: str) -> str:
    """The label selector of a project's objects, as the API takes it."""
    return ",".join(f"{k}={v}" for k, v in project_labels(project).items())


def service_labels(project: str, service: str) -> dict[str, str]:
    """The labels of a compose service's objects and pods (its Service selects them)."""
    return {LABEL_NAME: dns_label(service), **project_labels(project)}
