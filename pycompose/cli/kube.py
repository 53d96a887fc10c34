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
                   help="push the services' images to their registries first")
    a.add_argument("--wait", action="store_true",
                   help="wait for the workloads to be rolled out and ready")
    a.add_argument("--wait-timeout", type=float, default=300, metavar="SECONDS",
                   help="give up on --wait after this long (default: 300)")
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


def _generated(args: argparse.Namespace) -> Any:
    from pycompose.kube.generate import generate as do_generate

    result = do_generate(load_project(args), _gen_options(args))
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


def apply(args: argparse.Namespace) -> int:
    raise NotImplementedError


def down(args: argparse.Namespace) -> int:
    raise NotImplementedError


def play(args: argparse.Namespace) -> int:
    raise NotImplementedError
