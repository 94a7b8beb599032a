"""Option values coerced without pydantic, so that a command starts fast.

Typer >= 0.2x coerces every option (even an absent one, and the root's unused
``--help``) through a pydantic ``TypeAdapter``: importing pydantic and building
~30 adapters cost ~0.2 CPU-s at every ``psalm-bench eval``, more than the
rest of start-up together. The CLI's options are plain ``str``, ``int``,
``float``, ``bool``, ``Path``, ``Enum`` and lists of them; those values are
coerced here with the same helper functions typer's adapters call
(``coerce_cli_choice``, ``coerce_cli_path``). Anything else, and every value
that is not plainly valid (out of range, not a number, not a choice), goes to
typer's own adapter, so errors and unusual inputs behave exactly as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

_INT = re.compile(r"-?[0-9]{1,18}")
_FLOAT = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,15})?([eE]-?[0-9]{1,3})?")
_SLOW = object()  # "not handled here": typer's adapter decides


def _leaf(annotation: Any, info: Any, value: Any, param: Any, ctx: Any) -> Any:
    """The coerced value, or ``_SLOW`` when typer's adapter must decide."""
    if info.parser is not None:
        return _SLOW
    if annotation is str:
        return value if type(value) is str else _SLOW
    if annotation is bool:
        return value if type(value) is bool else _SLOW
    if annotation is int or annotation is float:
        if info.clamp:
            return _SLOW
        if type(value) is str:
            pattern = _INT if annotation is int else _FLOAT
            if not pattern.fullmatch(value):
                return _SLOW
            number = annotation(value)
        elif type(value) is int or (annotation is float and type(value) is float):
            number = annotation(value)
        else:
            return _SLOW
        if (info.min is not None and number < info.min) or (info.max is not None and number > info.max):
            return _SLOW
        return number
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        if isinstance(value, annotation):
            return value
        if type(value) is not str:
            return _SLOW
        try:
            return coerce_cli_choice(value, choices=list(annotation), case_sensitive=info.case_sensitive, ctx=ctx)
        except ValueError:
            return _SLOW
    if annotation is Path and info.path_type is None:
        if type(value) is str and value:
            value = Path(value)  # what pydantic's Path validator returns for a non-empty string
        if not isinstance(value, Path):
            return _SLOW
        try:
            return coerce_cli_path(value, info, path_type=Path, param=param, ctx=ctx)
        except Exception:  # typer's adapter raises the same error, in its own words
            return _SLOW
    return _SLOW


def _coerce(annotation: Any, info: Any, value: Any, param: Any, ctx: Any) -> Any:
    if get_origin(annotation) is list:
        (item_type,) = get_args(annotation)
        if not isinstance(value, (list, tuple)):
            return _SLOW
        items = [_leaf(item_type, info, item, param, ctx) for item in value]
        return _SLOW if any(item is _SLOW for item in items) else items
    return _leaf(annotation, info, value, param, ctx)


try:  # typer >= 0.2x: coercion through pydantic adapters
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer._param_types import coerce_cli_choice, coerce_cli_path
    from typer.core import _TyperParameter
except ImportError:  # pragma: no cover - older typer uses click's own (fast) types
    RuntimeParam = None


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class FastRuntimeParam(RuntimeParam):  # type: ignore[misc, valid-type]
        """Coerces plain values here; hands anything else to typer's adapter, built on first need."""

        descriptor: Any = None
        built: list = field(default_factory=list)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            fast = _coerce(self.annotation, self.parameter_info, value, param, ctx)
            if fast is not _SLOW:
                return fast
            if not self.built:
                self.built.append(build_runtime_param(self.descriptor))
            return self.built[0]._coerce_value(value, param=param, ctx=ctx)


def install(command: Any) -> None:
    """Give every typer parameter of ``command`` (and its subcommands) the fast coercion."""
    if RuntimeParam is None:  # pragma: no cover
        return
    params = list(getattr(command, "params", ()))
    if hasattr(command, "get_help_option") and hasattr(command, "context_class"):
        # the --help option is made (and cached) with the first context; make it now
        ctx = command.context_class(command, info_name=command.name, **(command.context_settings or {}))
        params.append(command.get_help_option(ctx))
    for p in params:
        if isinstance(p, _TyperParameter) and getattr(p, "_runtime_param", False) is None:
            d = p.type_descriptor
            if d.file_annotation is None:
                p._runtime_param = FastRuntimeParam(parameter_info=d.parameter_info, annotation=d.annotation,
                                                    descriptor=d)
    for sub in (getattr(command, "commands", None) or {}).values():
        install(sub)
