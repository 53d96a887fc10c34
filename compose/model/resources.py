"""Top-level resources (networks, volumes, secrets, configs, models) and the file itself."""

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from . import syntax
from .base import LabelMap, Options, Spec, StrList, problem, wrap
from .service import Service


def _external(data: Any) -> Any:
    """``external: {name: x}`` (deprecated) becomes ``external: true`` plus ``name: x``."""
    if isinstance(data, dict) and isinstance(data.get("external"), dict):
        ext = data["external"]
        data = dict(data)
        data["external"] = True
        if "name" in ext:
            if data.get("name") not in (None, ext["name"]):
                raise syntax.SyntaxProblem("external.name and name conflict: use name only")
            data["name"] = ext["name"]
    return data


class External(Spec):
    """A resource that may be ``external``."""

    @model_validator(mode="before")
    @classmethod
    def _external_name(cls, data: Any) -> Any:
        return wrap(_external)(data)


class IpamPool(Spec):
    subnet: str | None = None
    gateway: str | None = None
    ip_range: str | None = None
    aux_addresses: dict[str, str] | None = None


class Ipam(Spec):
    driver: str | None = None
    config: list[IpamPool] | None = None
    options: dict[str, str] | None = None


class Network(External):
    name: str | None = None
    driver: str | None = None
    driver_opts: Options | None = None
    ipam: Ipam | None = None
    external: bool | None = None
    internal: bool | None = None
    attachable: bool | None = None
    labels: LabelMap | None = None
    enable_ipv4: bool | None = None
    enable_ipv6: bool | None = None



class Volume(External):
    name: str | None = None
    driver: str | None = None
    driver_opts: Options | None = None
    external: bool | None = None
    labels: LabelMap | None = None



class Secret(External):
    name: str | None = None
    file: str | None = None
    environment: str | None = None
    content: str | None = None
    external: bool | None = None
    labels: LabelMap | None = None
    driver: str | None = None
    driver_opts: Options | None = None
    template_driver: str | None = None


    @model_validator(mode="after")
    def _one_source(self) -> "Secret":
        sources = [k for k in ("file", "environment", "content")
                   if getattr(self, k) is not None]
        if len(sources) > 1:
            raise problem(f"set only one of file, environment and content, "
                          f"not {' and '.join(sources)}")
        if not sources and self.driver is None and self.external is None:
            # compose-go's checkFileObject: where would its content come from?
            raise problem("one of file, environment or content must be set (or "
                          "external: true, or a driver)")
        return self


class Config(Secret):
    """``configs.NAME``: the same keys as a secret (``content`` is where it differs)."""


class Model(Spec):
    name: str | None = None
    model: str
    context_size: int | None = None
    runtime_flags: list[str] | None = None


class Include(Spec):
    path: StrList | None = None
    env_file: StrList | None = None
    project_directory: str | None = None


_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")


def _named(what: str) -> Any:
    def check(value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, dict):
            for k in value:
                if not isinstance(k, str) or not _NAME.match(k):
                    raise syntax.SyntaxProblem(
                        f"invalid {what} name {k!r}: expected letters, digits, '.', '_' "
                        "and '-'")
            # ``networks: {front:}``: a resource with all defaults
            return {k: ({} if v is None else v) for k, v in value.items()}
        raise syntax.SyntaxProblem(f"expected a mapping of {what}s, got {syntax.kind_of(value)}")

    return wrap(check)


class ComposeFile(Spec):
    """The whole (merged) document."""

    version: Any = Field(default=None, exclude=True)
    name: str | None = None
    include: list[Annotated[Include, BeforeValidator(
        lambda v: {"path": v} if isinstance(v, str) else v)]] | None = None
    services: Annotated[dict[str, Service], BeforeValidator(_named("service"))] = Field(
        default_factory=dict)
    networks: Annotated[dict[str, Network], BeforeValidator(_named("network"))] = Field(
        default_factory=dict)
    volumes: Annotated[dict[str, Volume], BeforeValidator(_named("volume"))] = Field(
        default_factory=dict)
    secrets: Annotated[dict[str, Secret], BeforeValidator(_named("secret"))] = Field(
        default_factory=dict)
    configs: Annotated[dict[str, Config], BeforeValidator(_named("config"))] = Field(
        default_factory=dict)
    models: Annotated[dict[str, Model], BeforeValidator(_named("model"))] = Field(
        default_factory=dict)
