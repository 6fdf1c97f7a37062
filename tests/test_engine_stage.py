"""The `engine` stage fingerprints exactly the library code the per-window stages run."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
PER_WINDOW = ("tune", "calibrate", "evaluate")


def tmaxedge_imports(path: Path) -> set[str]:
    """Modules of tmaxedge a file imports anywhere (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "tmaxedge":
            if node.module == "tmaxedge":
                found |= {f"tmaxedge.{alias.name}" for alias in node.names}
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "tmaxedge"}
    return found


def module_file(module: str) -> str:
    parts = module.split(".")
    folder = PROJECT / "src" / Path(*parts)
    if folder.is_dir():
        return str((folder / "__init__.py").relative_to(PROJECT))
    return str(folder.with_suffix(".py").relative_to(PROJECT))


def import_closure(scripts: list[Path]) -> set[str]:
    """Source files of every tmaxedge module the scripts reach, the package's __init__ included."""
    files = {"src/tmaxedge/__init__.py"}
    todo = [m for script in scripts for m in tmaxedge_imports(script)]
    while todo:
        path = module_file(todo.pop())
        if path not in files:
            files.add(path)
            todo += tmaxedge_imports(PROJECT / path)
    return files


def test_engine_lists_the_per_window_stages_import_closure():
    spec = yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"]
    command_files = spec["engine"]["cmd"].split()[3:]
    deps = [d for d in spec["engine"]["deps"] if d != "stages/engine.py"]
    assert command_files == deps, "the engine's command and deps must list the same files"
    closure = import_closure([PROJECT / "stages" / f"{name}.py" for name in PER_WINDOW])
    assert set(deps) == closure
    for name in PER_WINDOW:
        assert "data/engine.json" in spec[name]["deps"]
        assert not [d for d in spec[name]["deps"] if d.startswith("src/")], f"{name} lists source files itself"


def test_every_other_stage_lists_the_library_code_its_script_imports():
    """A stage that misses a module it runs would not rerun when that module changes."""
    spec = yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"]
    checked = 0
    for name, stage in spec.items():
        if name in PER_WINDOW or name == "engine":
            continue
        script = stage["cmd"].split()[1]
        closure = import_closure([PROJECT / script]) - {"src/tmaxedge/__init__.py"}
        missing = sorted(closure - set(stage["deps"]))
        assert not missing, f"stage {name} runs {script} but does not depend on {missing}"
        checked += 1
    assert checked >= 8


def test_fingerprint_changes_with_any_module(tmp_path):
    modules = [tmp_path / "a.py", tmp_path / "b.py"]
    for path in modules:
        path.write_text("x = 1\n")

    def fingerprint() -> str:
        out = tmp_path / "engine.json"
        subprocess.run([sys.executable, str(PROJECT / "stages" / "engine.py"), str(out), *map(str, modules)],
                       check=True, cwd=tmp_path)  # fmt: skip
        return out.read_text()

    first = fingerprint()
    assert fingerprint() == first
    modules[1].write_text("x = 2\n")
    assert fingerprint() != first
