"""The container engine: images, containers, volumes, the supervisor.

Never imports ``pycompose.compose``. Uses ``pycompose.netplug`` only through its
narrow attach interface.
"""
