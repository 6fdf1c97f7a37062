"""The `engine` stage fingerprints exactly the library code the per-window stages run."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
PER_WINDOW = ("tune", "calibrate", "evaluate")


def module_file(module: str) -> Path | None:
    """The source file of a tmaxedge module or package, None for a name inside a module."""
    base = PROJECT / "src" / Path(*module.split("."))
    if base.is_dir():
        return base / "__init__.py"
    return base.with_suffix(".py") if base.with_suffix(".py").exists() else None


def tmaxedge_imports(path: Path) -> set[str]:
    """Modules of tmaxedge a file imports anywhere (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.split(".")[0] == "tmaxedge"
        ):
            for alias in node.names:  # `from tmaxedge.core import io` imports a module
                inner = f"{node.module}.{alias.name}"
                found.add(inner if module_file(inner) else node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "tmaxedge"}
    return found


def import_closure(scripts: list[Path]) -> set[str]:
    """Source files of every tmaxedge module the scripts reach, with each parent package's
    __init__ (importing a.b.c runs a/__init__.py and a/b/__init__.py)."""
    files: set[str] = set()
    todo = [m for script in scripts for m in tmaxedge_imports(script)]
    while todo:
        parts = todo.pop().split(".")
        for depth in range(1, len(parts) + 1):
            path = module_file(".".join(parts[:depth]))
            if path is not None and str(path.relative_to(PROJECT)) not in files:
                files.add(str(path.relative_to(PROJECT)))
                todo += tmaxedge_imports(path)
    return files


def engine_sources() -> list[str]:
    spec = yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"]["engine"]
    # the sources are listed once, as deps; the command reads them from there
    assert spec["cmd"].split() == ["python", "stages/engine.py", "data/engine.json"]
    return [d for d in spec["deps"] if d != "stages/engine.py"]


def test_engine_covers_the_per_window_stages_import_closure_by_whole_subpackages():
    sources = engine_sources()
    folders = [s for s in sources if (PROJECT / s).is_dir()]
    covered = {s for s in sources if not (PROJECT / s).is_dir()}
    covered |= {
        str(f.relative_to(PROJECT)) for folder in folders for f in (PROJECT / folder).rglob("*.py")
    }
    closure = import_closure([PROJECT / "stages" / f"{name}.py" for name in PER_WINDOW])
    assert closure <= covered, (
        f"the per-window stages run code the engine does not fingerprint: {closure - covered}"
    )
    # no folder is fingerprinted that the per-window stages never import: an edit there would
    # rerun every window for nothing
    for folder in folders:
        assert any(f.startswith(folder + "/") for f in closure), (
            f"{folder} is not imported by the per-window stages"
        )
    spec = yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"]
    for name in PER_WINDOW:
        deps = spec[name]["do"]["deps"]  # one stage per window (foreach)
        assert "data/engine.json" in deps and "data/engine.json" in spec[name]["do"]["cmd"]
        assert not [d for d in deps if d.startswith("src/")], f"{name} lists source files itself"


def test_the_per_window_stages_do_not_import_the_decision_layers():
    """A gate or report edit must not rerun the windows."""
    closure = import_closure([PROJECT / "stages" / f"{name}.py" for name in PER_WINDOW])
    above = sorted(
        f for f in closure if f.split("/")[2] in ("decision", "reporting", "research", "cli")
    )
    assert above == []


def test_engine_fingerprints_every_module_of_a_folder(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text("x = 1\n")
    (package / "sub" / "b.py").write_text("y = 1\n")
    (package / "notes.txt").write_text("not code\n")
    out = tmp_path / "engine.json"
    subprocess.run(
        [sys.executable, str(PROJECT / "stages" / "engine.py"), str(out), "pkg"],
        check=True,
        cwd=tmp_path,
    )
    assert sorted(json.loads(out.read_text())["modules"]) == ["pkg/a.py", "pkg/sub/b.py"]


def test_every_other_stage_lists_the_library_code_its_script_imports():
    """A stage that misses a module it runs would not rerun when that module changes."""
    spec = yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"]
    checked = 0
    for name, stage in spec.items():
        if name in PER_WINDOW or name == "engine":
            continue
        script = stage["cmd"].split()[1]
        closure = import_closure([PROJECT / script])
        listed = {d for d in stage["deps"] if d.startswith("src/")}
        missing, stale = sorted(closure - listed), sorted(listed - closure)
        assert not missing, f"stage {name} runs {script} but does not depend on {missing}"
        # a listed module the script never runs reruns the stage for nothing
        assert not stale, f"stage {name} depends on {stale}, which {script} does not import"
        checked += 1
    assert checked >= 8


def test_fingerprint_changes_with_any_module(tmp_path):
    modules = [tmp_path / "a.py", tmp_path / "b.py"]
    for path in modules:
        path.write_text("x = 1\n")

    def fingerprint() -> str:
        out = tmp_path / "engine.json"
        subprocess.run(
            [sys.executable, str(PROJECT / "stages" / "engine.py"), str(out), *map(str, modules)],
            check=True,
            cwd=tmp_path,
        )
        return out.read_text()

    first = fingerprint()
    assert fingerprint() == first
    modules[1].write_text("x = 2\n")
    assert fingerprint() != first


def test_engine_without_arguments_fingerprints_its_deps_in_dvc_yaml(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "loose.py").write_text("y = 1\n")
    (tmp_path / "ignored.py").write_text("z = 1\n")
    deps = ["stages/engine.py", "pkg", "loose.py"]
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"engine": {"deps": deps}}}))
    out = tmp_path / "engine.json"
    script = str(PROJECT / "stages" / "engine.py")
    subprocess.run([sys.executable, script, str(out)], check=True, cwd=tmp_path)
    assert sorted(json.loads(out.read_text())["modules"]) == ["loose.py", "pkg/a.py"]
