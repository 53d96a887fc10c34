"""Typed records without the import cost of ``dataclasses``.

The engine's requests are built in the thin CLI (``container run`` and friends), whose
start-up decides the whole command's speed. ``dataclasses`` imports ``inspect``, and
with it ``tokenize``, ``ast``, ``dis`` and ``linecache``: about 7 ms per command here,
more than the rest of the client. :func:`record` makes the same kind of class (typed
fields with defaults, ``__init__``, ``__repr__``, ``__eq__``, frozen on request) from
the class's annotations, without generating code, and type checkers see a dataclass
(``dataclass_transform``). Use ``dataclasses`` everywhere start-up does not matter.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: see above
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform

    C = TypeVar("C", bound=type)

_MISSING: Any = object()


class _Field:
    __slots__ = ("default", "factory")

    def __init__(self, default: Any, factory: Callable[[], Any] | None) -> None:
        self.default = default
        self.factory = factory


def field(*, default: Any = _MISSING, default_factory: Callable[[], Any] | None = None) -> Any:
    """A field's default (``default_factory`` for mutable values)."""
    return _Field(default, default_factory)


def fields_of(cls: type) -> tuple[str, ...]:
    """The field names of a record class, in order."""
    return getattr(cls, "__record_fields__", ())


def is_record(obj: Any) -> bool:
    return hasattr(type(obj) if not isinstance(obj, type) else obj, "__record_fields__")


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    cls = type(self)
    names = cls.__record_fields__
    if not kwargs and len(args) == len(names):  # every field given in order: the hot case
        put = object.__setattr__
        for name, value in zip(names, args, strict=True):
            put(self, name, value)
        return
    if len(args) > len(names):
        raise TypeError(f"{cls.__name__}() takes {len(names)} positional arguments, "
                        f"{len(args)} given")
    given = dict(zip(names, args, strict=False))
    for k, v in kwargs.items():
        if k not in cls.__record_defaults__ and k not in names:
            raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {k!r}")
        if k in given:
            raise TypeError(f"{cls.__name__}() got multiple values for argument {k!r}")
        given[k] = v
    put = object.__setattr__
    for name in names:
        if name in given:
            put(self, name, given[name])
            continue
        d = cls.__record_defaults__.get(name)
        if d is None:
            raise TypeError(f"{cls.__name__}() missing required argument: {name!r}")
        put(self, name, d.factory() if d.factory is not None else d.default)


def _repr(self: Any) -> str:
    cls = type(self)
    inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in cls.__record_fields__)
    return f"{cls.__qualname__}({inner})"


def _eq(self: Any, other: Any) -> Any:
    if type(other) is not type(self):
        return NotImplemented
    return all(getattr(self, n) == getattr(other, n) for n in type(self).__record_fields__)


def _hash(self: Any) -> int:
    return hash(tuple(getattr(self, n) for n in type(self).__record_fields__))


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise AttributeError(f"{type(self).__name__} is frozen: cannot set {name!r}")


def _make(cls: C, frozen: bool) -> C:
    names: list[str] = []
    defaults: dict[str, _Field] = {}
    for base in reversed(cls.__mro__[1:]):
        names += [n for n in getattr(base, "__record_fields__", ()) if n not in names]
        defaults.update(getattr(base, "__record_defaults__", {}))
    own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063 - inspect is the cost avoided
    for name, annotation in own.items():
        if "ClassVar" in str(annotation):
            continue
        if name not in names:
            names.append(name)
        if name in cls.__dict__:
            value = cls.__dict__[name]
            defaults[name] = value if isinstance(value, _Field) else _Field(value, None)
            if isinstance(value, _Field) and value.default is _MISSING \
                    and value.factory is None:
                del defaults[name]
    for name in names:  # instances carry their own values; the class keeps no _Field
        if name in cls.__dict__ and isinstance(cls.__dict__[name], _Field):
            delattr(cls, name)
    cls.__record_fields__ = tuple(names)  # type: ignore[attr-defined]
    cls.__record_defaults__ = defaults  # type: ignore[attr-defined]
    cls.__match_args__ = tuple(names)  # type: ignore[attr-defined,misc]
    cls.__init__ = _init  # type: ignore[misc]
    cls.__repr__ = _repr  # type: ignore[assignment,method-assign]
    cls.__eq__ = _eq  # type: ignore[assignment,method-assign]
    if frozen:
        cls.__setattr__ = _frozen_setattr  # type: ignore[assignment,method-assign]
        cls.__hash__ = _hash  # type: ignore[assignment,method-assign]
    else:
        cls.__hash__ = None  # type: ignore[assignment]
    return cls


if TYPE_CHECKING:
    @dataclass_transform(field_specifiers=(field,))
    def record(cls: C | None = None, *, frozen: bool = False) -> Any: ...
else:
    def record(cls=None, *, frozen=False):
        """Make ``cls`` a typed record (see the module's docstring)."""
        if cls is None:
            return lambda c: _make(c, frozen)
        return _make(cls, frozen)
