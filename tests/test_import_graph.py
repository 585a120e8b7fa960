"""The import graph of the package: no circle at all, and nothing imports the package root.

``scripts/check`` enforces the layer order (import-linter, see pyproject.toml);
this test also catches a circle inside one layer, ``TYPE_CHECKING`` imports
included, which import-linter's sibling check does not see when it runs
through a package's own ``__init__``.
"""

from __future__ import annotations

import grimp

PACKAGE = "drum_bridge"


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE, exclude_type_checking_imports=False, cache_dir=None)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_there_is_no_import_circle() -> None:
    assert _cycles(_graph()) == []


def test_no_module_imports_the_package_root() -> None:
    # The root re-exports the public API, so it imports nearly everything: importing it
    # back (``from . import __version__``) is a circle that holds only by statement order.
    assert sorted(_graph().find_modules_that_directly_import(PACKAGE)) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(name)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a.b")
    graph.add_import(importer="a.c", imported="a.d")
    assert _cycles(graph) == [["a.b", "a.c"]]
