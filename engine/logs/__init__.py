"""Container logs: drivers and rotation (``config``, ``files``), the formats on disk
(``codec``), reading them back (``reader``), and the log keeper process that holds
every container's output pipes apart from the supervisor (``keeper``).

Who holds what::

    container PID 1 --stdout/stderr pipes--> keeper --> <id>-json.log (+ .1, .2.gz ...)
                                               |  \\--> an attached client's stdout/stderr
    supervisor (a copy of each read end) ------'

Standard library only, and no imports here: the CLI imports ``reader`` and the keeper
runs with ``python -S``.
"""
