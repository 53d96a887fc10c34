"""Kubernetes front ends of pycompose.

- ``generate``: a validated compose project as Kubernetes objects (pure);
- ``apply``: those objects sent to a cluster with server-side apply, and ``kube down``;
- ``play``: Kubernetes manifests as a compose project, run by compose's own up/down.

kube imports compose (and the engine only through its public face); nothing but the CLI
imports kube (tests/unit/test_layering.py).
"""
