"""A griffe extension: the reStructuredText in phoenix_fast's docstrings, as Markdown.

The docstrings are Google-style (Args/Returns/Raises, which griffe parses) written with a few
reStructuredText habits that Markdown does not know:

- Roles (``:class:`~phoenix_fast.Socket```, ``:meth:`close```) become cross-references. A
  fully qualified name in the public API (``phoenix_fast.…``, no ``_private`` part) must
  resolve, so a broken one fails the strict build; a short name (``:meth:`close```) links
  when mkdocstrings documents something by that name nearby and stays code otherwise.
- A paragraph ending in ``::`` introduces an indented literal block: it becomes a fenced
  Python block, and the ``::`` a colon.

Double backticks need nothing: Markdown reads ````code```` as code too.
"""

from __future__ import annotations

import ast
import re
import textwrap
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(class|func|meth|mod|attr|exc|data|obj|const):`(~?)([^`<>]+)`")


def _link(obj: griffe.Object, match: re.Match[str]) -> str:
    _role, tilde, target = match.groups()
    target = target.strip().rstrip("()")
    shown = target.rsplit(".", 1)[-1] if tilde else target
    if target.startswith("."):  # relative to the module: ``:mod:`.longpoll```
        target = obj.module.path + target
    if target.startswith("phoenix_fast"):
        if not any(part.startswith("_") for part in target.split(".")):
            return f"[`{shown}`][{target}]"  # public: must resolve
        return _optional(target, shown)
    # A short name: the nearest enclosing scope that has it.
    scope: griffe.Object | None = obj
    while scope is not None:
        path = f"{scope.path}.{target}"
        if _exists(obj, path):
            return _optional(path, shown)
        scope = scope.parent
    return f"`{shown}`"


def _optional(identifier: str, shown: str) -> str:
    """A link when the target is documented on the site, plain code otherwise."""
    return f'<autoref identifier="{identifier}" optional><code>{shown}</code></autoref>'


def _exists(obj: griffe.Object, path: str) -> bool:
    try:
        obj.modules_collection[path]
    except Exception:  # KeyError, or an alias that does not resolve
        return False
    return True


def _walk(obj: griffe.Object) -> list[griffe.Object]:
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias:
            found.extend(_walk(member))  # type: ignore[arg-type]
    return found


def _literal_blocks(text: str) -> str:
    lines = text.splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.rstrip()
        if not stripped.endswith("::"):
            out.append(line)
            index += 1
            continue
        head = stripped[:-2].rstrip()
        if head:
            out.append(head + ":")
        indent = len(line) - len(line.lstrip())
        index += 1
        block: list[str] = []
        while index < len(lines):
            current = lines[index]
            if current.strip() and len(current) - len(current.lstrip()) <= indent:
                break
            block.append(current)
            index += 1
        while block and not block[-1].strip():
            block.pop()
        body = textwrap.dedent("\n".join(block)).strip("\n")
        prefix = " " * indent
        out.extend(["", prefix + "```" + _language(body)])
        out.extend(prefix + row if row else "" for row in body.splitlines())
        out.extend([prefix + "```", ""])
    return "\n".join(out)


def _language(code: str) -> str:
    """``python`` for a block that parses as Python, ``text`` for the rest (trees, rows)."""
    try:
        ast.parse(code)
    except SyntaxError:
        return "text"
    return "python"


def convert(obj: griffe.Object, text: str) -> str:
    """The docstring ``text`` of ``obj`` with its reStructuredText turned into Markdown."""
    text = _literal_blocks(text)
    return _ROLE.sub(lambda match: _link(obj, match), text)


class RstMarkup(griffe.Extension):
    """Rewrites each docstring once, when the whole package is loaded (short names resolve)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = convert(obj, obj.docstring.value)
