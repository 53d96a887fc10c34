"""pycompose: Compose stacks on a container engine of its own.

Layers (enforced by tests/unit/test_layering.py):

- ``pycompose.compose``  the Compose Specification and orchestration; imports engine, netplug
- ``pycompose.engine``   images, containers, volumes; never imports compose
- ``pycompose.netplug``  Linux networking; imports neither compose nor engine
- ``pycompose.cli``      thin: parse arguments, call one function, render the result
- ``pycompose.errors``, ``pycompose.util``  leaf helpers every layer may use
"""

__version__ = "0.1.0"
