"""The Compose Specification: load, interpolate, merge, validate, plan, orchestrate.

Drives the engine through its face (``pycompose.engine.api``) alone; nothing imports
this package but the CLI (and ``kube``, a front end on it).
"""
