"""The Docker Engine API on a unix socket (``pycompose system service``)."""
