"""``pycompose kube generate|apply|down|play``: the project on Kubernetes, and
Kubernetes manifests on pycompose's engine (``pycompose.kube``; heavy imports inside
the handlers)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .project import load_project


def register(p: argparse.ArgumentParser, command: str) -> None:
    sub = p.add_subparsers(dest="verb", metavar="COMMAND")

    def gen_flags(q: argparse.ArgumentParser) -> None:
        q.add_argument("--namespace", metavar="NS",
                       help="an existing namespace to use (default: one named after the "
                            "project, made by the manifests)")
        q.add_argument("--expose", choices=["nodeport", "loadbalancer"],
                       help="a Service of this type for each service's published ports")
        q.add_argument("--init-image", default="busybox:1.37", metavar="IMAGE",
                       help="image of the init containers that wait for service_healthy "
                            "dependencies (default: busybox:1.37)")
        q.add_argument("--volume-size", default="1Gi", metavar="SIZE",
                       help="storage requested by each volume's claim (default: 1Gi)")
        q.add_argument("--storage-class", metavar="NAME", help="the claims' storage class")

    g = sub.add_parser("generate", help="Kubernetes manifests of the project")
    gen_flags(g)
    g.add_argument("-o", "--output", default="-", metavar="DIR|-",
                   help="a folder for one file per object, or - for standard output")
    g.add_argument("services", nargs="*", metavar="SERVICE")
    g.set_defaults(handler=generate)

    def cluster_flags(q: argparse.ArgumentParser) -> None:
        q.add_argument("--kubeconfig", metavar="FILE",
                       help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
        q.add_argument("--context", metavar="NAME", help="the kubeconfig context to use")

    a = sub.add_parser("apply", help="Send the project to a cluster (server-side apply)")
    gen_flags(a)
    cluster_flags(a)
    a.add_argument("--push", action="store_true",
                   help="push the images of the services built here first (as push does)")
    a.add_argument("--wait", action="store_true",
                   help="wait for the workloads to be rolled out and ready")
    a.add_argument("--wait-timeout", type=float, default=300, metavar="SECONDS",
                   help="give up on --wait after this long (default: 300)")
    a.add_argument("--force-conflicts", action="store_true",
                   help="take over fields another field manager owns")
    a.add_argument("services", nargs="*", metavar="SERVICE")
    a.set_defaults(handler=apply)

    d = sub.add_parser("down", help="Delete what kube apply made (the project's labels)")
    cluster_flags(d)
    d.add_argument("--namespace", metavar="NS", help="the namespace kube apply used")
    d.add_argument("-v", "--volumes", action="store_true",
                   help="delete the volume claims too (and the project's own namespace)")
    d.set_defaults(handler=down)

    pl = sub.add_parser("play", help="Run Kubernetes manifests on pycompose's engine")
    pl.add_argument("file", metavar="FILE", help="a YAML file of Kubernetes objects "
                                                 "(- reads standard input)")
    pl.add_argument("--down", action="store_true",
                    help="stop and remove what a play of FILE made")
    pl.add_argument("--force", action="store_true",
                    help="with --down: remove the claims' volumes too")
    pl.add_argument("--wait", action="store_true",
                    help="wait for the containers to be running and healthy")
    pl.add_argument("--wait-timeout", type=float, metavar="SECONDS")
    pl.add_argument("-t", "--timeout", type=float, help="shutdown timeout in seconds")
    pl.set_defaults(handler=play)


def _gen_options(args: argparse.Namespace) -> Any:
    from pycompose.kube.generate import GenerateOptions

    return GenerateOptions(services=list(args.services), namespace=args.namespace,
                           expose=args.expose, init_image=args.init_image,
                           volume_size=args.volume_size, storage_class=args.storage_class)


def _generated(args: argparse.Namespace, project: Any = None) -> Any:
    from pycompose.kube.generate import generate as do_generate

    result = do_generate(project or load_project(args), _gen_options(args))
    for w in result.warnings:
        print(f"WARN: {w}", file=sys.stderr)
    return result


def generate(args: argparse.Namespace) -> int:
    from pycompose.kube import yamlio

    result = _generated(args)
    docs = result.documents()
    if args.output == "-":
        sys.stdout.write(yamlio.dump_all(docs))
        return 0
    from pycompose.util.fs import atomic_write

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for doc in docs:
        name = f"{doc['metadata']['name']}-{doc['kind'].lower()}.yaml"
        atomic_write(out / name, yamlio.dump(doc).encode())
        print(out / name)
    return 0


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def apply(args: argparse.Namespace) -> int:
    from pycompose.kube import cluster as C

    project = load_project(args)
    result = _generated(args, project)
    cl = C.Cluster(args.kubeconfig, args.context)  # a bad kubeconfig fails before a push
    try:
        if args.push:
            _push(project, args.services)
        C.apply(cl, result.objects, result.documents(), _say, force=args.force_conflicts)
        if args.wait:
            C.wait(cl, result.objects, _say, timeout=args.wait_timeout)
    finally:
        cl.close()
    return 0


def _push(project: Any, services: list[str]) -> None:
    """compose's own push of the images of the services built here and named with
    ``image:`` (only the blobs the registry lacks go up), before the cluster pulls."""
    import trio

    from pycompose.compose.pull import PushOptions, push
    from pycompose.kube.errors import KubeError

    from .stack import _engine, _progress

    built = [n for n in (services or project.services)
             if project.services[n].build is not None]
    unnamed = [n for n in built if not project.services[n].image]
    if unnamed:
        raise KubeError(f"kube apply --push: {', '.join(unnamed)} build(s) an image with "
                        "no image: name, which no cluster can pull: name it "
                        "REGISTRY/REPOSITORY:TAG")
    if built:
        trio.run(push, project, _engine(), PushOptions(services=built), _progress())


def down(args: argparse.Namespace) -> int:
    from pycompose.kube import cluster as C
    from pycompose.kube import names as N

    project = load_project(args)
    namespace = args.namespace or N.dns_label(project.name)
    cl = C.Cluster(args.kubeconfig, args.context)
    try:
        if not C.down(cl, project.name, namespace, _say, volumes=args.volumes):
            _say(f"nothing of project {project.name} in namespace {namespace}")
    finally:
        cl.close()
    return 0


def _ensure_pause_image() -> None:
    """The pods' infra image, made in the store the first time (no registry needed)."""
    import io

    from pycompose.engine.api import default_engine
    from pycompose.engine.api.images import ImageStore, import_tarball
    from pycompose.kube import pause

    if default_engine().image_id(pause.IMAGE) is not None:
        return
    store = ImageStore()
    import_tarball(store, io.BytesIO(pause.rootfs_tar()), source="pycompose kube play",
                   tag=pause.IMAGE, message="the infra container of kube play's pods",
                   created_by="pycompose kube play")


def play(args: argparse.Namespace) -> int:
    from pycompose.compose.loader import check_project_name, normalize_project_name
    from pycompose.compose.orchestrate import UpOptions
    from pycompose.compose.translate import volume_name
    from pycompose.engine.api import Engine, NotFound
    from pycompose.kube import play as P
    from pycompose.kube import yamlio
    from pycompose.util.paths import state_root

    from . import stack

    g = getattr(args, "global_options", None)
    if args.file == "-":
        docs = yamlio.load_all(sys.stdin.read(), "-")
        file, folder, stem = "-", Path.cwd(), "kube"
    else:
        path = Path(args.file).absolute()
        docs = yamlio.read(str(path))
        file, folder, stem = str(path), path.parent, path.stem
    name = getattr(g, "project_name", None) or normalize_project_name(stem) or "kube"
    check_project_name(name, "-p" if getattr(g, "project_name", None) else f"{file}'s name")
    state = state_root() / "kube" / name
    played = P.translate(docs, P.PlayOptions(file=file, project_name=name, state_dir=state,
                                             working_dir=folder))
    for w in played.warnings:
        print(f"WARN: {w}", file=sys.stderr)
    if args.down:
        stack.down_project(played.project, volumes=args.force, remove_orphans=True,
                           timeout=args.timeout)
        engine = Engine(state_root())
        for key in played.pod_volumes if not args.force else []:
            try:  # emptyDirs live and die with their pods
                engine.remove_volume(volume_name(played.project, key))
            except NotFound:
                continue
        import shutil

        shutil.rmtree(state, ignore_errors=True)
        return 0
    _ensure_pause_image()
    P.write_files(played, state)
    # the file is the truth: pods it no longer has go (compose's orphans)
    stack.up_detached(played.project, UpOptions(detach=True, wait=args.wait,
                                                wait_timeout=args.wait_timeout,
                                                timeout=args.timeout, remove_orphans=True))
    for pod in played.pods:
        print(pod)
    return 0
