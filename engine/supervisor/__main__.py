"""``python -m pycompose.engine.supervisor``: the daemon's entry point."""

from __future__ import annotations

import sys

from .server import main

sys.exit(main())
