"""Templates for topics, join params, socket params and push payloads.

A template is a JSON value (or a string) whose strings may hold ``{name}`` placeholders,
filled for every channel or push: ``"room:{n}"``, ``{"user_id": "u{n}", "seq": "{seq}"}``.
A string that is exactly one placeholder (``"{seq}"``) takes the value itself, so numbers
stay numbers; ``{{`` and ``}}`` are literal braces.

Placeholders:

- topics, join params: ``n`` (channel number over the whole run), ``i`` (channel number on
  its socket), ``s`` (socket number over the whole run), ``p`` (worker process number);
- socket params: ``s`` and ``p``;
- payloads: those of the channel plus ``seq`` (push number in this process), ``event``,
  ``topic`` and ``ts`` (Unix time in milliseconds, a float).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "CHANNEL_FIELDS",
    "PAYLOAD_FIELDS",
    "SOCKET_FIELDS",
    "Template",
    "TemplateError",
]

SOCKET_FIELDS = frozenset({"s", "p"})
CHANNEL_FIELDS = frozenset({"n", "i", "s", "p"})
PAYLOAD_FIELDS = CHANNEL_FIELDS | {"seq", "event", "topic", "ts"}

Render = Callable[[Mapping[str, Any]], Any]


class TemplateError(ValueError):
    """A template with an unknown placeholder, bad braces or a value that is not JSON."""


class Template:
    """A compiled template; :meth:`render` fills it.

    Args:
        value: a string, or a JSON value (dicts, lists, strings, numbers, booleans, None).
        fields: the placeholders allowed.
        where: what the template is for, used in error messages (``"topic"``).

    Raises:
        TemplateError: an unknown placeholder, unbalanced braces, or a non-JSON value.
    """

    __slots__ = ("_render", "constant", "names", "source")

    def __init__(self, value: Any, fields: frozenset[str], where: str) -> None:
        self.source = value
        used: set[str] = set()
        render, constant = _compile(value, fields, where, used)
        self._render = render
        #: Whether the template has no placeholder (render returns the same object).
        self.constant = constant
        #: The placeholders it uses.
        self.names = frozenset(used)

    def render(self, values: Mapping[str, Any]) -> Any:
        """The value with its placeholders filled from ``values``."""
        return self._render(values)


def _compile(value: Any, fields: frozenset[str], where: str, used: set[str]) -> tuple[Render, bool]:
    if isinstance(value, str):
        return _compile_str(value, fields, where, used)
    if isinstance(value, Mapping):
        return _compile_dict(value, fields, where, used)
    if isinstance(value, (list, tuple)):
        return _compile_list(list(value), fields, where, used)
    if value is None or isinstance(value, (bool, int, float)):
        return _const(value), True
    raise TemplateError(f"{where}: {type(value).__name__} {value!r} is not a JSON value")


def _const(value: Any) -> Render:
    return lambda _values: value


def _placeholders(text: str, where: str) -> list[str]:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(f"{where}: {text!r}: {exc} (write {{{{ and }}}} for braces)") from None
    names = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            raise TemplateError(f"{where}: {text!r}: bad placeholder {{{name}}}")
        if spec or conversion:
            raise TemplateError(f"{where}: {text!r}: placeholders take no format spec")
        names.append(name)
    return names


def _compile_str(
    text: str, fields: frozenset[str], where: str, used: set[str]
) -> tuple[Render, bool]:
    names = _placeholders(text, where)
    used.update(names)
    unknown = sorted(set(names) - fields)
    if unknown:
        known = ", ".join("{" + f + "}" for f in sorted(fields))
        raise TemplateError(
            f"{where}: unknown placeholder {{{unknown[0]}}} in {text!r} (known: {known})"
        )
    if not names:
        literal = text.replace("{{", "{").replace("}}", "}")
        return _const(literal), True
    if text == "{" + names[0] + "}":
        name = names[0]
        return (lambda values: values[name]), False
    return text.format_map, False


def _compile_dict(
    value: Mapping[Any, Any], fields: frozenset[str], where: str, used: set[str]
) -> tuple[Render, bool]:
    parts: list[tuple[str, Render]] = []
    constant = True
    for key, item in value.items():
        if not isinstance(key, str):
            raise TemplateError(f"{where}: object keys must be strings, not {key!r}")
        render, const = _compile(item, fields, f"{where}.{key}", used)
        parts.append((key, render))
        constant = constant and const
    if constant:
        fixed = {key: render({}) for key, render in parts}
        return _const(fixed), True
    simple = _simple_parts(value, fields)
    if simple is not None:  # constants and whole placeholders only: no call per key
        fixed_items, names = simple

        def render_simple(values: Mapping[str, Any]) -> Any:
            out = dict(fixed_items)
            for key, name in names:
                out[key] = values[name]
            return out

        return render_simple, False
    return (lambda values: {key: render(values) for key, render in parts}), False


def _simple_parts(
    value: Mapping[str, Any], fields: frozenset[str]
) -> tuple[dict[str, Any], list[tuple[str, str]]] | None:
    """A dict template's constant items and ``(key, name)`` of its whole placeholders
    (``"{seq}"``), or None if some value is anything else (nested, or text around one)."""
    fixed: dict[str, Any] = {}
    names: list[tuple[str, str]] = []
    for key, item in value.items():
        if isinstance(item, str) and item.startswith("{") and item.endswith("}"):
            name = item[1:-1]
            if name in fields:
                names.append((key, name))
                continue
        if isinstance(item, str) and ("{" in item or "}" in item):
            return None
        if item is not None and not isinstance(item, (str, bool, int, float)):
            return None
        fixed[key] = item
    return fixed, names


def _compile_list(
    value: list[Any], fields: frozenset[str], where: str, used: set[str]
) -> tuple[Render, bool]:
    compiled = [_compile(item, fields, f"{where}[{k}]", used) for k, item in enumerate(value)]
    if all(const for _render, const in compiled):
        fixed = [render({}) for render, _const in compiled]
        return _const(fixed), True
    renders = [render for render, _const in compiled]
    return (lambda values: [render(values) for render in renders]), False
