"""Linux networking for pycompose: per-project network namespaces, bridges, veth
pairs, IPAM, DNS and published ports.

Imports neither ``pycompose.compose`` nor ``pycompose.engine``.
"""
