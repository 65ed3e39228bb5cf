"""The import graph of both packages: no cycle, and azr_agents uses azr_env's public modules only.

Read with `ast` (nothing is imported). An edge A -> B is a module-level `import B` or
`from B import x` in A (to `B.x` when that is a module), `if TYPE_CHECKING:` blocks included: what
runs, or is type-checked, when A is imported. Imports inside functions are not edges (they run
later, once every module is loaded), except for the public-API rule, which counts every import.
The parent-package import Python performs implicitly is not an edge.

"Public" for azr_env means listed in `azr_env.PUBLIC_MODULES` (the modules docs/api/azr_env.md
and docs/architecture.md document); everything else is internal and may change without notice.
"""

from __future__ import annotations

import ast
from pathlib import Path

import azr_env

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("azr_env", "azr_agents")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve(module: str, level: int, current: str, is_package: bool) -> str:
    if level == 0:
        return module
    base = current.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _imports(tree: ast.AST, module_level: bool) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif module_level and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                ast.Lambda)):
            continue
        todo.extend(ast.iter_child_nodes(node))
    return found


def import_graph(module_level: bool = True) -> dict[str, set[str]]:
    """Module -> the modules of both packages it imports (at module level, or anywhere)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in _imports(tree, module_level):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(node.module or "", node.level, name, path.name == "__init__.py")
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_graph_is_read() -> None:
    graph, lazy = import_graph(), import_graph(module_level=False)
    assert "azr_env.scoring" in graph["azr_env.core"]
    assert "azr_agents.training.trainer" not in graph["azr_agents.training.run"]
    assert "azr_agents.training.trainer" in lazy["azr_agents.training.run"]


def test_no_module_imports_itself_through_others() -> None:
    cycle = _cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_azr_env_never_imports_azr_agents() -> None:
    bad = {m: sorted(d) for m, d in import_graph(module_level=False).items()
           if m.startswith("azr_env") and any(t.startswith("azr_agents") for t in d)}
    assert not bad


def test_azr_agents_imports_only_public_modules_of_azr_env() -> None:
    public = set(azr_env.PUBLIC_MODULES)
    bad = {m: sorted(t for t in d if t.startswith("azr_env") and t not in public)
           for m, d in import_graph(module_level=False).items() if m.startswith("azr_agents")}
    assert not {m: t for m, t in bad.items() if t}


def test_public_modules_exist() -> None:
    assert set(azr_env.PUBLIC_MODULES) <= set(import_graph())


def test_the_api_reference_documents_public_modules_only() -> None:
    text = (ROOT / "docs" / "api" / "azr_env.md").read_text()
    targets = [line.split()[1] for line in text.splitlines() if line.startswith(":::")]
    public = set(azr_env.PUBLIC_MODULES)
    assert targets
    assert [t for t in targets if t.rsplit(".", 1)[0] not in public] == []


AGENT_LAYERS: tuple[tuple[str, ...], ...] = (
    ("azr_agents", "azr_agents.errors", "azr_agents.run_folder", "azr_agents.testing"),
    ("azr_agents.config", "azr_agents.policies", "azr_agents.estimators"),
    ("azr_agents.training", "azr_agents.evaluation", "azr_agents.benchmarking"),
    ("azr_agents.cli",),
)
"""The rooms of azr_agents from the bottom up, as docs/architecture.md draws them."""


def _layer(module: str) -> int:
    best = -1, 0
    for i, rooms in enumerate(AGENT_LAYERS):
        for room in rooms:
            if (module == room or module.startswith(room + ".")) and len(room) > best[1]:
                best = i, len(room)
    assert best[0] >= 0, f"{module} is in no layer of AGENT_LAYERS: add it"
    return best[0]


def test_agent_rooms_use_only_their_own_layer_or_lower_ones() -> None:
    """Building blocks (policies, estimators, config) never reach up into training or the CLI,
    even lazily; training, evaluation and benchmarking never into the CLI."""
    graph = import_graph(module_level=False)
    bad = sorted(f"{m} -> {t}" for m, deps in graph.items() if m.startswith("azr_agents")
                 for t in deps if t.startswith("azr_agents") and _layer(t) > _layer(m))
    assert bad == []
