"""The supervisor: the one long-lived process per state root that holds containers.

It is a trio program (``server.py``) started on demand by the thin client
(``engine/client.py``) and gone again when it holds nothing; containers' output goes
through the log keeper (``logs.py`` is the supervisor's side of it). Nothing here is
imported by the CLI's fast path, so this file stays empty of imports.
"""
