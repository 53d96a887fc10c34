"""Not a package that anything imports: it lets a reader (or a tool) that resolves
imports by folder see the layers at the repository's root (compose/, engine/, netplug/,
kube/, dockerapi/) as the one package they are installed as (pycompose.*), so that their
relative imports of each other (``from ..engine.api import ...``) resolve to the folders
they name. See DESIGN.md's layers and tests/unit/test_layering.py."""
