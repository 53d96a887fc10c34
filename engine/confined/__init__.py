"""Confined file work: everything done on the host on a container's behalf (``cp``
both ways, volume copy-up, a build's ``COPY``) resolves its paths *inside* the
container's root, never by joining host paths as strings.

::

    from pycompose.engine.confined import Root, LayerStack, Policy, copy

    with Root.at(f"/proc/{pid}/root") as root:     # a live root (running container),
        fd = root.open("etc/passwd")              #   an upper dir, a layer dir...
        dfd = root.makedirs("/app/conf", 0o755, uid, gid)
        root.write_file("/app/conf/x.ini", src_fd, 0o644, uid, gid)
        root.symlink("/app/current", "releases/7"); root.remove("/app/old")
        for rel, dir_fd, entries in root.walk("/app"): ...
        entry = root.locate("/var/log", follow=True)

    with LayerStack([upper, *lowerdirs]) as stack:  # a stopped container or an image:
        names, entry = stack.resolve("/var/run/app", follow=True)  # -> ["run", "app"]

    copy(entry, dst_dir_fd, "name", Policy(owner=..., keep_setid=False))

The guarantees (each module's docstring says how):

- ``Root`` (``root.py``): paths resolve with ``openat2(RESOLVE_IN_ROOT |
  RESOLVE_NO_MAGICLINKS)``: ``..`` stops at the root, absolute symlinks restart at it,
  /proc magic links are refused; the last component is not followed unless asked (and
  then inside the root); files are created with ``O_EXCL | O_NOFOLLOW`` in a directory
  fd, an existing symlink is replaced, never written through.
- ``LayerStack`` (``stack.py``): an overlay stack read without a mount, top layer first,
  whiteouts and opaque directories honoured, symlinks followed inside the stack by
  reading them, never by the kernel.
- ``Entry`` (``tree.py``): what both hand out: an lstat and (dir fd, name) places; every
  later read is an ``*at()`` call by a single name with ``O_NOFOLLOW``, so a directory
  swapped for a symlink during a copy (CVE-2018-15664) leads nowhere.
- ``copy`` (``copying.py``): a tree written into a directory fd with the same rules, with a
  ``Policy`` for owners, set-id bits, device nodes and overlay upper dirs.
"""

TYPE_CHECKING = False  # not typing's: the launcher imports .kernel, and this file with it
if TYPE_CHECKING:
    from .copying import Policy, copy, copy_children, ensure_dir
    from .root import Root, copy_data, remove_entry, walk_fd
    from .stack import LayerStack
    from .tree import Entry, children, lookup

#: name -> submodule: loaded on first use, so that importing ``confined.kernel`` (the
#: container launcher does, for its mount targets) costs no shutil, no dataclasses
_WHERE = {"Policy": "copying", "copy": "copying", "copy_children": "copying",
          "ensure_dir": "copying",
          "Root": "root", "copy_data": "root", "remove_entry": "root", "walk_fd": "root",
          "LayerStack": "stack", "Entry": "tree", "children": "tree", "lookup": "tree"}

__all__ = ["Entry", "LayerStack", "Policy", "Root", "children", "copy", "copy_children",
           "copy_data", "ensure_dir", "lookup", "remove_entry", "walk_fd"]


def __getattr__(name: str) -> object:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{where}"), name)
