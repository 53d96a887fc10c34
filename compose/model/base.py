"""The pydantic base of every Compose model, and the field types shared by them.

Every model forbids unknown keys, except ``x-*`` extensions wherever the spec allows
them: those are set aside into ``extensions`` before pydantic sees the mapping, so the
``extra_forbidden`` error of a typo still carries the typo's key path.

Short syntaxes are turned into the long form by ``BeforeValidator``s that call the pure
parsers of :mod:`.syntax`; their :class:`~.syntax.SyntaxProblem` becomes a pydantic
custom error whose message is the user's sentence.
"""

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from . import syntax

#: The error type pydantic reports for our own syntax messages.
SYNTAX_ERROR = "compose_syntax"


def wrap(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A parser of :mod:`.syntax` as a pydantic validator (messages kept verbatim)."""

    def validator(value: Any) -> Any:
        try:
            return fn(value)
        except syntax.SyntaxProblem as e:
            raise PydanticCustomError(SYNTAX_ERROR, "{msg}", {"msg": str(e)})

    validator.__name__ = getattr(fn, "__name__", "validator")
    return validator


def problem(message: str) -> PydanticCustomError:
    return PydanticCustomError(SYNTAX_ERROR, "{msg}", {"msg": message})


class Spec(BaseModel):
    """A mapping of the spec: unknown keys are errors, ``x-*`` keys are kept aside."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True,
                              validate_default=False, defer_build=True)

    extensions: dict[str, Any] | None = Field(
        default=None, validation_alias="__extensions__", exclude=True, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _set_aside_extensions(cls, data: Any) -> Any:
        if isinstance(data, dict):
            ext = None
            for k in data:
                if isinstance(k, str) and k.startswith("x-"):
                    ext = ext or {}
                    ext[k] = data[k]
            if ext is not None:
                data = {k: v for k, v in data.items() if k not in ext}
                data["__extensions__"] = ext
        return data


#: A duration (``1m30s``), kept as seconds and printed as Go prints durations.
Duration = Annotated[
    float,
    BeforeValidator(wrap(syntax.parse_duration)),
    PlainSerializer(syntax.format_duration, return_type=str),
]

#: A size in bytes (``512m``), printed as a quoted number as docker compose does.
Bytes = Annotated[
    int,
    BeforeValidator(wrap(syntax.parse_bytes)),
    PlainSerializer(lambda v: str(v), return_type=str),
]


def _text_or_none(value: Any) -> Any:
    if isinstance(value, (int, float, bool)):
        return syntax.scalar_text(value)
    return value


#: A scalar that the spec lets be a number or a string, kept as text.
Text = Annotated[str, BeforeValidator(_text_or_none)]

#: Mappings written as a list of ``KEY=VALUE`` or as a mapping.
EnvMap = Annotated[dict[str, str | None], BeforeValidator(wrap(syntax.list_or_dict))]


def _env_vars(value: Any) -> dict[str, str | None]:
    if isinstance(value, list):
        for item in value:
            key = str(item).partition("=")[0]
            if key and key[-1].isspace():
                # compose-go refuses ``- DEBUG = true`` (its key would be "DEBUG ")
                raise syntax.SyntaxProblem(
                    f"environment variable {key} is declared with a trailing space: "
                    f"write {key.rstrip()}=VALUE")
    return syntax.list_or_dict(value)


#: ``environment`` and ``build.args`` (compose-go's ``MappingWithEquals``): as
#: :data:`EnvMap`, but a list item whose key ends in a space is an error.
EnvVars = Annotated[dict[str, str | None], BeforeValidator(wrap(_env_vars))]


def _labels(value: Any) -> dict[str, str]:
    return {k: ("" if v is None else v) for k, v in syntax.list_or_dict(value).items()}


LabelMap = Annotated[dict[str, str], BeforeValidator(wrap(_labels))]

#: compose-go's ``Mapping`` (``sysctls``, ``build.additional_contexts``): as labels, a
#: key without a value is the empty string, never null.
Mapping = LabelMap

StrList = Annotated[list[str], BeforeValidator(wrap(syntax.string_or_list))]


def _str_list_only(value: Any) -> Any:
    if value is None:
        return []
    if not isinstance(value, list):
        raise syntax.SyntaxProblem(f"expected a list of strings, got {syntax.kind_of(value)}")
    return syntax.string_or_list(value)


#: A list of strings (numbers become text; a lone string is an error).
TextList = Annotated[list[str], BeforeValidator(wrap(_str_list_only))]

Command = Annotated[list[str] | None, BeforeValidator(wrap(syntax.command))]


def _opts(value: Any) -> Any:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise syntax.SyntaxProblem(f"expected a mapping, got {syntax.kind_of(value)}")
    out: dict[str, str] = {}
    for k, v in value.items():
        if isinstance(v, (dict, list)):
            raise syntax.SyntaxProblem(f"expected a string or number for {k!r}, "
                                       f"got {syntax.kind_of(v)}")
        out[str(k)] = "" if v is None else syntax.scalar_text(v)
    return out


#: ``driver_opts``, ``logging.options``, ``storage_opt``: a mapping of strings
#: (numbers as text; a key without a value is "", as compose-go's ``Options`` has it).
Options = Annotated[dict[str, str], BeforeValidator(wrap(_opts))]
