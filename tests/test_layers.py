"""The package is layered: each subpackage imports only the subpackages below it.

A reader then finds a rule by its file name, and DVC's code fingerprints (which decide what
`dvc repro` reruns) follow the layers: a change above ``walkforward`` reruns no window.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "tmaxedge"
# bottom first; a module may import its own layer and any layer before it
LAYERS = (
    "core",
    "inputs",
    "features",
    "modeling",
    "walkforward",
    "decision",
    "reporting",
    "research",
    "cli",
)


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "tmaxedge" and parts[1] in LAYERS else None


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every tmaxedge import in a file, top level or inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "tmaxedge":
                found += [(node.lineno, f"tmaxedge.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, module) for line, module in found if module.split(".")[0] == "tmaxedge"]


def upward_imports(path: Path) -> list[str]:
    own = path.relative_to(PACKAGE).parts[0]
    rank = LAYERS.index(own)
    return [
        f"{path.relative_to(PACKAGE)}:{line} imports {module} ({layer_of(module)} is above {own})"
        for line, module in imported_modules(path)
        if layer_of(module) is not None and LAYERS.index(layer_of(module)) > rank
    ]


def test_every_module_sits_in_a_layer():
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert loose == [], "modules outside the layers"
    assert folders == set(LAYERS)


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_layers_below_it(layer):
    problems = [
        problem
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for problem in upward_imports(path)
    ]
    assert problems == []


def test_an_upward_import_is_caught(tmp_path, monkeypatch):
    fake = tmp_path / "tmaxedge"
    (fake / "features").mkdir(parents=True)
    module = fake / "features" / "leaky.py"
    module.write_text("def f():\n    from tmaxedge.decision.gates import GateParams\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    assert upward_imports(module) == [
        "features/leaky.py:2 imports tmaxedge.decision.gates (decision is above features)"
    ]


def test_python_m_tmaxedge_runs_the_command_line():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "tmaxedge", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "walkforward" in done.stdout and "import" in done.stdout


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the tmaxedge modules it imports (a name imported from a package that is a
    module of it counts as that module)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("tmaxedge")
            ):
                for alias in node.names:
                    inner = f"{node.module}.{alias.name}"
                    targets.add(inner if inner in modules else node.module)
        graph[name] = targets - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, done = [], set()

    def visit(node: str, trail: list[str]) -> None:
        if node in trail:
            found.append(trail[trail.index(node) :] + [node])
            return
        if node in done:
            return
        for target in sorted(graph.get(node, ())):
            visit(target, trail + [node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    return found


def test_no_two_modules_import_each_other():
    assert cycles(import_graph()) == []


def test_a_cycle_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
