"""The dependency rules of ARCHITECTURE.md, checked from the imports of every module.

Every ``import`` in ``python/phoenix_fast`` counts, wherever it stands: at the top, inside a
function (a lazy import is still a dependency) or under ``TYPE_CHECKING`` (a transport that
names ``Socket`` in a type knows the socket). A rule that fails names the module, the line and
the import, and says which rule it breaks and where the rule is explained.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "python" / "phoenix_fast"
PACKAGE = "phoenix_fast"

# -- the rules, as data ---------------------------------------------------------------------------

# The Sans-I/O protocol package: state machines that take time and events as arguments.
PROTOCOL = "phoenix_fast.protocol"
# What the protocol may not import: I/O, event loops, threads, clocks (time comes in as an
# argument) and the layers above it.
PROTOCOL_FORBIDDEN_STDLIB = frozenset(
    {
        "asyncio",
        "concurrent",
        "http",
        "multiprocessing",
        "selectors",
        "signal",
        "socket",
        "socketserver",
        "ssl",
        "subprocess",
        "threading",
        "time",
        "urllib.request",
    }
)
PROTOCOL_FORBIDDEN_THIRD_PARTY = frozenset({"aiohttp", "uvloop", "websockets", "orjson"})
# What the protocol may import of the package besides itself: the shared leaves, which do no
# I/O either. Anything else of phoenix_fast is a layer above it or does I/O.
PROTOCOL_MAY_IMPORT = frozenset(
    {
        "phoenix_fast.errors",
        "phoenix_fast.message",
        "phoenix_fast._constants",
        "phoenix_fast._states",
        "phoenix_fast._types",
        "phoenix_fast._backoff",
    }
)
# The asyncio facade: what composes the machines, a transport and the loop.
FACADE = frozenset(
    {
        "phoenix_fast.socket",
        "phoenix_fast.channel",
        "phoenix_fast.push",
        "phoenix_fast.presence",
        "phoenix_fast.sync",
        "phoenix_fast._connection",
        "phoenix_fast._bound_loop",
        "phoenix_fast._callbacks",
        "phoenix_fast._deadlines",
        "phoenix_fast._router",
        "phoenix_fast._sender",
        "phoenix_fast._fallback",
        "phoenix_fast._stream",
        "phoenix_fast._handlers",
        "phoenix_fast._loop",
        "phoenix_fast._loop_thread",
    }
)
TRANSPORTS = "phoenix_fast.transports"
TESTING = "phoenix_fast.testing"
LOAD = "phoenix_fast.load"
# The entry points that start the tools (the command line, `python -m`, the demo): they sit
# above the client, the load tool and the test server alike.
ENTRY_POINTS = frozenset({"phoenix_fast.cli", "phoenix_fast.__main__", "phoenix_fast.demo"})


# -- reading the imports --------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module, absolute
    line: int

    def __str__(self) -> str:
        path = module_path(self.module).relative_to(ROOT)
        return f"{path}:{self.line}: {self.module} imports {self.target}"


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def top(module: str) -> str:
    return module.partition(".")[0]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def module_path(module: str) -> Path:
    base = PACKAGE_DIR.parent.joinpath(*module.split("."))
    package = base / "__init__.py"
    return package if package.exists() else base.with_suffix(".py")


def is_package(module: str) -> bool:
    return module_path(module).name == "__init__.py"


def is_module(module: str) -> bool:
    return module_path(module).exists()


MODULES = sorted(module_name(path) for path in PACKAGE_DIR.rglob("*.py"))


def imports_in(source: str, module: str, package: bool = False) -> Iterator[Import]:
    """The imports of ``module`` (whose code is ``source``), with absolute targets."""
    tree = ast.parse(source)
    anchor = module if package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = anchor.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, node.module] if node.module else parts)
            else:
                base = node.module or ""
            for alias in node.names:
                # `from phoenix_fast import socket` imports the module phoenix_fast.socket;
                # `from phoenix_fast.socket import Socket` imports phoenix_fast.socket.
                sub = f"{base}.{alias.name}"
                target = sub if top(base) == PACKAGE and is_module(sub) else base
                yield Import(module, target, node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield Import(module, node.args[0].value, node.lineno)


def imports_of(module: str) -> Iterator[Import]:
    path = module_path(module)
    return imports_in(path.read_text(encoding="utf-8"), module, is_package(module))


IMPORTS = [imp for module in MODULES for imp in imports_of(module)]


def breaking(rule: str, found: list[Import]) -> str:
    lines = "\n  ".join(str(imp) for imp in found)
    return f"{rule} (see ARCHITECTURE.md, 'Dependency rules'):\n  {lines}"


# -- the rules ------------------------------------------------------------------------------------


def in_any(module: str, packages: tuple[str, ...], modules: frozenset[str] = frozenset()) -> bool:
    """Whether ``module`` is one of ``modules`` or lies in one of ``packages``."""
    return module in modules or any(within(module, package) for package in packages)


def io_module(module: str) -> bool:
    """A module that does I/O, runs an event loop or a thread, or reads a clock."""
    return (
        module in PROTOCOL_FORBIDDEN_STDLIB
        or top(module) in PROTOCOL_FORBIDDEN_STDLIB
        or top(module) in PROTOCOL_FORBIDDEN_THIRD_PARTY
    )


def protocol_breaks(imports: list[Import]) -> list[Import]:
    """The protocol package does no I/O and knows no layer above it."""
    above = (TRANSPORTS, TESTING, LOAD)
    return [
        imp
        for imp in imports
        if within(imp.module, PROTOCOL)
        and (
            io_module(imp.target)
            or in_any(imp.target, above, FACADE | ENTRY_POINTS)
            or (
                top(imp.target) == PACKAGE
                and not within(imp.target, PROTOCOL)
                and imp.target not in PROTOCOL_MAY_IMPORT
            )
        )
    ]


def transport_breaks(imports: list[Import]) -> list[Import]:
    """A transport knows no Socket, channel or protocol machine."""
    above = (PROTOCOL, TESTING, LOAD)
    return [
        imp
        for imp in imports
        if within(imp.module, TRANSPORTS) and in_any(imp.target, above, FACADE | ENTRY_POINTS)
    ]


def client_breaks(imports: list[Import]) -> list[Import]:
    """The client imports neither the test server nor the load tool."""
    tools = (TESTING, LOAD)
    return [
        imp
        for imp in imports
        if not in_any(imp.module, tools, ENTRY_POINTS) and in_any(imp.target, tools, ENTRY_POINTS)
    ]


def server_breaks(imports: list[Import]) -> list[Import]:
    """The test server does not depend on the load tool."""
    return [
        imp
        for imp in imports
        if within(imp.module, TESTING) and in_any(imp.target, (LOAD,), ENTRY_POINTS)
    ]


def test_the_reader_sees_the_whole_package() -> None:
    # A rule over no modules or no imports would pass for nothing.
    assert {"phoenix_fast.socket", "phoenix_fast.transports.websocket"} <= set(MODULES)
    assert len(IMPORTS) > 200
    assert Import("phoenix_fast.socket", "asyncio", 0) in {
        Import(imp.module, imp.target, 0) for imp in IMPORTS
    }
    assert not [imp for imp in IMPORTS if imp.target.startswith(".") or not imp.target]


def test_the_reader_resolves_every_form_of_import() -> None:
    source = (
        "import asyncio\n"
        "from phoenix_fast import socket\n"
        "from phoenix_fast.channel import Channel\n"
        "from . import base\n"
        "from .. import errors\n"
        "from ..testing.server import ReferenceServer\n"
        "def later():\n"
        "    import importlib\n"
        "    importlib.import_module('phoenix_fast.load.runner')\n"
        "if TYPE_CHECKING:\n"
        "    from phoenix_fast.socket import Socket\n"
    )
    found = [imp.target for imp in imports_in(source, "phoenix_fast.transports.example")]
    assert sorted(found) == sorted(
        [
            "asyncio",
            "phoenix_fast.socket",
            "phoenix_fast.channel",
            "phoenix_fast.transports.base",
            "phoenix_fast.errors",
            "phoenix_fast.testing.server",
            "phoenix_fast.socket",
            "importlib",
            "phoenix_fast.load.runner",
        ]
    )


def test_each_rule_catches_what_it_forbids() -> None:
    def imp(module: str, target: str) -> Import:
        return Import(module, target, 1)

    protocol = "phoenix_fast.protocol.connection"
    assert protocol_breaks([imp(protocol, "asyncio"), imp(protocol, "time")]) != []
    assert protocol_breaks([imp(protocol, "asyncio.events"), imp(protocol, "aiohttp.web")]) != []
    assert protocol_breaks([imp(protocol, "phoenix_fast.socket")]) != []
    assert protocol_breaks([imp(protocol, "phoenix_fast.transports.base")]) != []
    assert protocol_breaks([imp(protocol, "phoenix_fast._native")]) != []
    assert (
        protocol_breaks([imp(protocol, "phoenix_fast"), imp(protocol, "phoenix_fast._loop")]) != []
    )
    allowed = ["dataclasses", "phoenix_fast.errors", "phoenix_fast.protocol.fallback"]
    assert protocol_breaks([imp(protocol, target) for target in allowed]) == []
    transport = "phoenix_fast.transports.longpoll"
    assert transport_breaks([imp(transport, "phoenix_fast._fallback")]) != []
    assert transport_breaks([imp(transport, "phoenix_fast.socket")]) != []
    assert transport_breaks([imp(transport, "phoenix_fast.protocol.fallback")]) != []
    assert transport_breaks([imp(transport, "phoenix_fast.transports.base")]) == []
    assert client_breaks([imp("phoenix_fast.socket", "phoenix_fast.testing")]) != []
    assert client_breaks([imp("phoenix_fast.sync", "phoenix_fast.load.runner")]) != []
    assert client_breaks([imp("phoenix_fast.cli", "phoenix_fast.load.command")]) == []
    assert client_breaks([imp("phoenix_fast.load.session", "phoenix_fast.testing")]) == []
    assert server_breaks([imp("phoenix_fast.testing.app", "phoenix_fast.load")]) != []


def test_the_protocol_imports_no_io_and_no_layer_above_it() -> None:
    assert is_module(PROTOCOL)
    assert any(within(imp.module, PROTOCOL) for imp in IMPORTS)
    found = protocol_breaks(IMPORTS)
    assert not found, breaking(
        "the protocol package does no I/O and knows no layer above it", found
    )


def test_transports_know_no_socket() -> None:
    found = transport_breaks(IMPORTS)
    assert not found, breaking("a transport knows no Socket, channel or protocol machine", found)


def test_the_client_never_imports_the_test_server_or_the_load_tool() -> None:
    found = client_breaks(IMPORTS)
    assert not found, breaking(
        "the client imports neither the test server nor the load tool", found
    )


def test_the_test_server_never_imports_the_load_tool() -> None:
    found = server_breaks(IMPORTS)
    assert not found, breaking("the test server does not depend on the load tool", found)


# -- the native side ------------------------------------------------------------------------------

RUST = ROOT / "rust"


def test_every_python_exception_of_the_extension_is_made_in_errors_rs() -> None:
    # `rust/py/errors.rs` is the one crossing from the core's errors to Python exceptions.
    pattern = re.compile(r"\bnew_err\s*\(")
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted(RUST.rglob("*.rs"))
        if path != RUST / "py" / "errors.rs" and "fuzz" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert (RUST / "py" / "errors.rs").read_text(encoding="utf-8").count("new_err(") >= 10
    assert not found, "a PyErr made outside rust/py/errors.rs:\n  " + "\n  ".join(found)


def test_the_pure_rust_core_has_no_python_in_it() -> None:
    # Everything outside rust/py/ builds and tests without libpython (`cargo test`).
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted(RUST.rglob("*.rs"))
        if "py" not in path.relative_to(RUST).parts[:1] and "fuzz" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\bpyo3\b", line) and not line.lstrip().startswith("//")
    ]
    assert not found, "pyo3 in the pure core:\n  " + "\n  ".join(found)
