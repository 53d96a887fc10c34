"""The image store: content-addressed, layered, shared by every container.

The interface other parts of pycompose code against::

    from pycompose.engine.images import ImageStore, Image
    store = ImageStore(root)        # root defaults to pycompose.util.paths.state_root()
    img = store.resolve("busybox")  # name, name:tag, id, short id prefix, name@sha256:...
                                    # raises engine.errors.NotFound otherwise
    img.id                          # "sha256:<hex>", the config digest (as docker)
    img.config                      # the OCI config's "config" dict (Entrypoint, Cmd, Env,
                                    # WorkingDir, User, ExposedPorts, Volumes, StopSignal,
                                    # Healthcheck, Labels; keys may be missing)
    img.lowerdirs()                 # overlay lowerdirs, TOP layer first, short paths
                                    # "<root>/images/l/XXXXXXXXXXXX" (relative=True: "l/...",
                                    # for a mount made from cwd store.images_dir)
    store.image_in_use              # ids of images containers use ($ROOT/containers/*/
                                    # state.json "Image"); `image rm` refuses those

The container runtime mounts ``lowerdir=":".join(img.lowerdirs())``. For adding images
(pull, build): inside ``with store.writing():`` call ``store.add_layer(stream, parent_chain,
expected_digest=..., expected_diff_id=...)`` per layer (bottom first), then
``store.add_image(oci_config, layer_refs, tags)``.

A pulled image's layers are stored as blobs and unpacked on first use: ``lowerdirs()``
does it (unpacking.py), so a caller that may block for seconds unpacks first, in a
thread (``unpacking.ensure_image_unpacked``), as the supervisor's create does.

Modules: the store in floors, each a class on the one below: layout (folders, locks,
work dirs, blobs), layerstore (unpacked layers and their links), holds (what gc keeps:
holds, held images, images in use), store (``ImageStore``: the index, images, names);
image (``Image``, read from its blobs), layers (safe unpacking of a tar), unpacking
(layers on first use), pack (upper dir -> tar), reference (names), versions (a name's
history), changes (``--change``), commit (import, commit), archive (load, save),
bootstrap (debootstrap), recovery (crash recovery), gc (garbage collection), remove
(``image rm``/``prune``).
"""

from __future__ import annotations

from .store import Image, ImageStore, LayerRef

__all__ = ["Image", "ImageStore", "LayerRef"]
