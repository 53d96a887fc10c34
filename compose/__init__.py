"""The Compose Specification: load, interpolate, merge, validate, plan, orchestrate.

Imports ``pycompose.engine`` and ``pycompose.netplug``; nothing imports this package
but the CLI.
"""
