"""Merging compose documents: several ``-f`` files, and ``extends``.

The rules are the Compose Specification's (13-merge.md) as docker compose applies them
(compose-go ``override``):

- mappings merge key by key; a scalar from the later document wins;
- sequences are appended, then de-duplicated by a "unicity" key, the later entry
  replacing the earlier one in place: ports by ``(host_ip, target, published,
  protocol)``, volumes and devices by container path, secrets and configs by target,
  env_file by path, expose and the plain string lists by value;
- ``command``, ``entrypoint`` and ``healthcheck.test`` are replaced, never appended;
- ``environment``, ``labels``, ``annotations``, ``build.args``, ``build.labels``,
  ``build.additional_contexts``, ``sysctls``, ``deploy.labels`` and the ``labels`` of
  top-level networks and volumes merge by key whether written as a list or a map (a
  map on one side and a list on the other merge their entries);
- ``extra_hosts`` (and ``build.extra_hosts``) are a list of host/address pairs: the
  later file's pairs are added, one already there is not repeated, so an override
  keeps the other addresses of the same host;
- ``networks.*.ipam.config`` entries merge by ``subnet``;
- ``depends_on`` and ``networks`` merge as mappings whatever their syntax;
- ``logging.options`` merge only when both name the same driver (or one names none);
- each ``ulimits`` entry is replaced whole (soft and hard together);
- ``!reset`` removes the inherited value, ``!override`` replaces it without merging.

Marks travel with the values, so an error in a merged project names the file that
wrote the offending value.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from .yamlsrc import Mark, MDict, MList, Override, Reset

_DELETE = object()

#: Service keys merged by key whether written as a list ("K=V") or a map.
_KEYED = {"environment", "labels", "annotations", "sysctls"}
_BUILD_KEYED = {"args", "labels", "additional_contexts"}
#: Service keys whose value may be one string standing for a one-item list.
_STRING_OR_LIST = {"dns", "dns_search", "env_file", "tmpfs", "label_file", "dns_opt",
                   "external_links", "cap_add", "cap_drop", "security_opt"}
#: Service keys replaced as a whole.
_REPLACED = {"command", "entrypoint"}


def merge_documents(base: Any, over: Any) -> Any:
    """Merge two whole compose documents (top level)."""
    if not isinstance(base, MDict) or not isinstance(over, MDict):
        return over
    out = _copy_mapping(base)
    for key, value in over.items():
        marks = over.key_marks.get(key)
        if _apply_tag(out, key, value, marks):
            continue
        if key == "services" and isinstance(value, MDict) and isinstance(out.get(key), MDict):
            services = _copy_mapping(out[key])
            for name, svc in value.items():
                smarks = value.key_marks.get(name)
                if isinstance(svc, Reset):
                    services.pop(name, None)
                elif isinstance(svc, Override):
                    services.set(name, svc.value, smarks)
                elif name in services and isinstance(services[name], MDict) \
                        and isinstance(svc, MDict):
                    services.set(name, merge_service(services[name], svc), smarks)
                else:
                    services.set(name, svc, smarks)
            out.set(key, services, marks)
        elif key in ("networks", "volumes") and isinstance(value, MDict) \
                and isinstance(out.get(key), MDict):
            section = _copy_mapping(out[key])
            for name, definition in value.items():
                dmarks = value.key_marks.get(name)
                if _apply_tag(section, name, definition, dmarks):
                    continue
                if name in section:
                    merged = _merge_resource(key, section[name], definition)
                    if merged is _DELETE:
                        section.pop(name, None)
                    else:
                        section.set(name, merged, dmarks)
                else:
                    section.set(name, definition, dmarks)
            out.set(key, section, marks)
        elif key in out:
            merged = _merge_generic(out[key], value)
            if merged is _DELETE:
                out.pop(key, None)
            else:
                out.set(key, merged, marks)
        else:
            out.set(key, value, marks)
    return out


def _apply_tag(out: MDict, key: Any, value: Any, marks: Any) -> bool:
    """Settle ``!reset`` (drop the key) or ``!override`` (take the value as is) in
    ``out``; False when ``value`` carries neither tag."""
    if isinstance(value, Reset):
        out.pop(key, None)
        return True
    if isinstance(value, Override):
        out.set(key, value.value, marks)
        return True
    return False


def merge_service(base: MDict, over: MDict) -> MDict:
    """Merge service ``over`` onto service ``base`` (a later file, or the extending
    service onto the one it extends)."""
    base = canonical_for_merge(base)
    over = canonical_for_merge(over)
    out = _copy_mapping(base)
    for key, value in over.items():
        marks = over.key_marks.get(key)
        if _apply_tag(out, key, value, marks):
            continue
        if key not in out or key in _REPLACED:
            out.set(key, value, marks)
            continue
        merged = _merge_service_key(key, out[key], value)
        if merged is _DELETE:
            out.pop(key, None)
        else:
            out.set(key, merged, marks)
    return out


def _merge_service_key(key: str, a: Any, b: Any) -> Any:
    if key == "healthcheck" and isinstance(a, MDict) and isinstance(b, MDict):
        out = _copy_mapping(a)
        for k, v in b.items():
            if isinstance(v, Reset):
                out.pop(k, None)
            elif isinstance(v, Override):
                out.set(k, v.value, b.key_marks.get(k))
            elif k == "test":
                out.set(k, v, b.key_marks.get(k))
            else:
                out.set(k, _merge_generic(out[k], v) if k in out else v, b.key_marks.get(k))
        return out
    if key == "logging" and isinstance(a, MDict) and isinstance(b, MDict):
        da, db = a.get("driver"), b.get("driver")
        if da is not None and db is not None and da != db:
            return b
        return _merge_generic(a, b)
    if key == "ulimits" and isinstance(a, MDict) and isinstance(b, MDict):
        # each limit is replaced whole, never merged soft by hard (compose-go's
        # mergeUlimit): an override that names only ``hard`` is not half the base's
        out = _copy_mapping(a)
        for k, v in b.items():
            if isinstance(v, Reset):
                out.pop(k, None)
            else:
                out.set(k, v.value if isinstance(v, Override) else v, b.key_marks.get(k))
        return out
    if key == "extra_hosts":
        return _merge_hosts(a, b)
    if key == "deploy" and isinstance(a, MDict) and isinstance(b, MDict):
        return _merge_keyed_in(a, b, {"labels"})
    if key == "build" and isinstance(a, MDict) and isinstance(b, MDict) \
            and "extra_hosts" in a and "extra_hosts" in b:
        out = _merge_generic(a, _without(b, "extra_hosts"))
        out.set("extra_hosts", _merge_hosts(a["extra_hosts"], b["extra_hosts"]),
                b.key_marks.get("extra_hosts"))
        return out
    unicity = _UNICITY.get(key)
    if isinstance(a, list) and isinstance(b, list):
        return _append_unique(a, b, unicity)
    return _merge_generic(a, b)


def _merge_resource(kind: str, a: Any, b: Any) -> Any:
    """One top-level network or volume merged over another: ``labels`` by key
    whatever their syntax, a network's ``ipam.config`` by subnet, the rest as
    mappings."""
    if isinstance(b, Reset):
        return _DELETE
    if isinstance(b, Override):
        return b.value
    if not isinstance(a, MDict) or not isinstance(b, MDict):
        return b
    out = _merge_keyed_in(a, _without(b, "ipam"), {"labels"})
    if kind == "networks" and "ipam" in b:
        ipam_a, ipam_b = a.get("ipam"), b["ipam"]
        marks = b.key_marks.get("ipam")
        if isinstance(ipam_a, MDict) and isinstance(ipam_b, MDict):
            ipam = _merge_generic(ipam_a, _without(ipam_b, "config"))
            ca, cb = ipam_a.get("config"), ipam_b.get("config")
            if isinstance(ca, list) and isinstance(cb, list):
                ipam.set("config", _merge_ipam_config(ca, cb), ipam_b.key_marks.get("config"))
            elif "config" in ipam_b:
                ipam.set("config", cb, ipam_b.key_marks.get("config"))
            out.set("ipam", ipam, marks)
        elif _apply_tag(out, "ipam", ipam_b, marks):
            pass
        else:
            out.set("ipam", ipam_b, marks)
    return out


def _merge_ipam_config(a: list[Any], b: list[Any]) -> MList:
    """Entries with the same ``subnet`` merge as mappings (the later one's keys win,
    ``aux_addresses`` merge); the others are kept, new subnets appended."""
    out = MList(mark=getattr(a, "mark", None) or getattr(b, "mark", None))
    index: dict[Any, int] = {}
    for src in (a, b):
        for i, item in enumerate(src):
            if isinstance(item, Reset):
                continue
            mark = src.item_mark(i) if isinstance(src, MList) else None
            subnet = item.get("subnet") if isinstance(item, dict) else None
            if subnet is not None and subnet in index:
                j = index[subnet]
                out[j] = _merge_generic(out[j], item)
                out.item_marks[j] = mark
                continue
            if subnet is not None:
                index[subnet] = len(out)
            out.add(item, mark)
    return out


def _merge_keyed_in(a: MDict, b: MDict, keyed: set[str]) -> Any:
    """``_merge_generic`` of two mappings, with the keys in ``keyed`` merged by key
    whether each side writes them as a list of ``K=V`` or as a mapping."""
    a = _copy_mapping(a)
    b = _copy_mapping(b)
    for k in keyed:
        for side in (a, b):
            if _all_strings(side.get(k)):
                side.set(k, _list_to_map(side[k]), side.key_marks.get(k))
    return _merge_generic(a, b)


def _without(m: MDict, key: str) -> MDict:
    out = MDict(mark=m.mark)
    for k, v in m.items():
        if k != key:
            out.set(k, v, m.key_marks.get(k))
    return out


def _host_pairs(value: Any) -> list[tuple[str, str]] | None:
    """``extra_hosts`` as (host, address) pairs, or None if it is neither form."""
    pairs: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            for ip in (v if isinstance(v, list) else [v]):
                if isinstance(ip, (dict, list)) or ip is None:
                    return None
                pairs.append((str(k), str(ip)))
        return pairs
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, str):
                return None
            sep = "=" if "=" in item else ":"
            host, found, ip = item.partition(sep)
            if not found:
                return None
            pairs.append((host, ip))
        return pairs
    return None


def _merge_hosts(a: Any, b: Any) -> Any:
    """The earlier pairs, then the later file's pairs not already there (compose-go's
    ``mergeExtraHosts``): ``web:10.0.0.1`` over ``web:10.0.0.2`` keeps both."""
    if isinstance(b, Reset):
        return _DELETE
    if isinstance(b, Override):
        return b.value
    pa, pb = _host_pairs(a), _host_pairs(b)
    if pa is None or pb is None:
        return b  # not a host list: the validator reports it where it stands
    out = MList(mark=getattr(b, "mark", None))
    for host, ip in pa + [p for p in pb if p not in pa]:
        out.add(f"{host}={ip}", None)
    return out


def _merge_generic(a: Any, b: Any) -> Any:
    """Mappings merge recursively, sequences append (exact duplicates dropped),
    anything else: ``b`` wins."""
    if isinstance(b, Reset):
        return _DELETE
    if isinstance(b, Override):
        return b.value
    if isinstance(a, MDict) and isinstance(b, MDict):
        out = _copy_mapping(a)
        for k, v in b.items():
            if k in out:
                merged = _merge_generic(out[k], v)
                if merged is _DELETE:
                    out.pop(k, None)
                else:
                    out.set(k, merged, b.key_marks.get(k))
            elif isinstance(v, Reset):
                continue
            else:
                out.set(k, v.value if isinstance(v, Override) else v, b.key_marks.get(k))
        return out
    if isinstance(a, list) and isinstance(b, list):
        return _append_unique(a, b, None)
    return b


def _append_unique(a: list[Any], b: list[Any], key: Callable[[Any], Any] | None) -> MList:
    """``a + b`` with later entries replacing earlier ones of the same key in place."""
    out = MList(mark=getattr(a, "mark", None) or getattr(b, "mark", None))
    index: dict[Any, int] = {}
    for src in (a, b):
        for i, item in enumerate(src):
            if isinstance(item, Reset):
                continue
            mark = src.item_mark(i) if isinstance(src, MList) else None
            k = _hashable(key(item) if key else item)
            if k in index:
                j = index[k]
                out[j] = item
                out.item_marks[j] = mark
            else:
                index[k] = len(out)
                out.add(item, mark)
    return out


def _hashable(value: Any) -> Hashable:
    if isinstance(value, dict):
        return tuple(sorted((str(k), _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, Hashable):
        return value
    return repr(value)  # pragma: no cover


def _copy_mapping(m: MDict) -> MDict:
    out = MDict(mark=m.mark)
    out.update(m)
    out.key_marks.update(m.key_marks)
    return out


# --- canonical forms, just enough for merging --------------------------------------


def canonical_for_merge(svc: MDict) -> MDict:
    """Bring the keys whose short and long syntaxes must merge together into one form:
    list-or-map keys to maps, a string build to ``{context}``, list depends_on/networks
    to maps, a lone string to a one-item list."""
    out = _copy_mapping(svc)
    for key, value in svc.items():
        marks = svc.key_marks.get(key)
        if key in _KEYED and _all_strings(value):
            out.set(key, _list_to_map(value), marks)
        elif key in ("depends_on", "networks", "models") and isinstance(value, list):
            m = MDict(mark=getattr(value, "mark", None))
            for i, item in enumerate(value):
                if isinstance(item, str):
                    im = value.item_mark(i) if isinstance(value, MList) else None
                    m.set(item, _depends_default() if key == "depends_on" else None,
                          (im, im))
            out.set(key, m, marks)
        elif key == "build" and isinstance(value, str):
            m = MDict(mark=marks[1] if marks else None)
            m.set("context", value, marks)
            out.set(key, m, marks)
        elif key == "build" and isinstance(value, MDict):
            b = _copy_mapping(value)
            for bk in _BUILD_KEYED:
                if _all_strings(value.get(bk)):
                    b.set(bk, _list_to_map(value[bk]), value.key_marks.get(bk))
            out.set(key, b, marks)
        elif key in _STRING_OR_LIST and isinstance(value, str):
            out.set(key, MList([value], mark=marks[1] if marks else None,
                               item_marks=[marks[1] if marks else None]), marks)
    return out


def _all_strings(value: Any) -> bool:
    """Only a list of plain strings is rewritten; anything odd is left as written for
    the validator to report where it stands."""
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _depends_default() -> MDict:
    d = MDict()
    d["condition"] = "service_started"
    d["required"] = True
    return d


def _list_to_map(items: list[Any]) -> MDict:
    m = MDict(mark=getattr(items, "mark", None))
    for i, item in enumerate(items):
        mark = items.item_mark(i) if isinstance(items, MList) else None
        k, sep, v = item.partition("=")
        m.set(k, v if sep else None, (mark, mark))
    return m


def port_key(item: Any) -> tuple[Any, ...]:
    """``(host_ip, target, published, protocol)`` of a short or long port entry."""
    if isinstance(item, dict):
        return (str(item.get("host_ip", "")), str(item.get("target", "")),
                str(item.get("published", "")), str(item.get("protocol", "tcp")))
    text = str(item)
    proto = "tcp"
    if "/" in text:
        text, _, proto = text.rpartition("/")
    host_ip = ""
    if text.startswith("["):  # [::1]:8080:80
        end = text.find("]")
        host_ip, text = text[1:end], text[end + 2:]
    parts = text.rsplit(":", 2)
    if len(parts) == 3:
        host_ip, published, target = parts
    elif len(parts) == 2:
        published, target = parts
    else:
        published, target = "", parts[0]
    return (host_ip, target, published, proto)


def mount_target(item: Any) -> Any:
    """The container path of a short (``src:dst[:mode]``) or long volume/device entry."""
    if isinstance(item, dict):
        return item.get("target", item)
    parts = str(item).split(":")
    return parts[1] if len(parts) >= 2 else parts[0]


def _secret_target(prefix: str) -> Callable[[Any], Any]:
    def key(item: Any) -> Any:
        if isinstance(item, dict):
            target = item.get("target") or item.get("source")
        else:
            target = item
        t = str(target)
        return t if t.startswith("/") else prefix + t

    return key


def _env_file_path(item: Any) -> Any:
    return item.get("path", item) if isinstance(item, dict) else item


_UNICITY: dict[str, Callable[[Any], Any] | None] = {
    "ports": port_key,
    "volumes": mount_target,
    "devices": mount_target,
    "secrets": _secret_target("/run/secrets/"),
    "configs": _secret_target("/"),
    "env_file": _env_file_path,
    # compose-go indexes links by the text before "=", as it does K=V lists
    "links": lambda item: str(item).partition("=")[0],
    # and expose by its text: 80 and "80" are the same port
    "expose": lambda item: item if isinstance(item, (bool, dict, list)) else str(item),
}


def resolve_wrappers(tree: Any) -> Any:
    """Remove what ``!reset`` left and unwrap ``!override`` values that no merge
    consumed (a tag in a single file): the result holds no wrapper."""
    if isinstance(tree, MDict):
        out = MDict(mark=tree.mark)
        for k, v in tree.items():
            if isinstance(v, Reset):
                continue
            out.set(k, resolve_wrappers(v.value if isinstance(v, Override) else v),
                    tree.key_marks.get(k))
        return out
    if isinstance(tree, MList):
        items: list[Any] = []
        marks: list[Mark | None] = []
        for i, v in enumerate(tree):
            if isinstance(v, Reset):
                continue
            items.append(resolve_wrappers(v.value if isinstance(v, Override) else v))
            marks.append(tree.item_mark(i))
        return MList(items, mark=tree.mark, item_marks=marks)
    if isinstance(tree, Override):
        return resolve_wrappers(tree.value)
    return tree
