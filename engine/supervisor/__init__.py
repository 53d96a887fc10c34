"""The supervisor: the one long-lived process per state root that holds containers.

It is a trio program (``server.py``) started on demand by the thin client
(``engine/client.py``) and gone again when it holds nothing. Nothing here is imported by
the CLI's fast path except ``logs`` (stdlib only), so this file stays empty of imports.
"""
