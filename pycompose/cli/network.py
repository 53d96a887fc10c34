"""``pycompose network ...``: calls the engine directly. Heavy imports inside handlers."""

from __future__ import annotations

import argparse


def register(p: argparse.ArgumentParser, command: str) -> None:
    p.add_subparsers(dest="verb", metavar="COMMAND")
