"""The emulator judges what `shared/` sends, so it shares no code with it: a bug in our number
handling or signing must be refused by the emulator, not repeated by it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EMULATOR = ROOT / "local" / "emulator"


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_emulator_module_imports_shared() -> None:
    files = sorted(EMULATOR.rglob("*.py"))
    assert len(files) > 5
    offending = {
        str(path.relative_to(ROOT)): sorted(n for n in _imported_modules(path) if n.split(".")[0] == "shared")
        for path in files
    }
    assert {path: names for path, names in offending.items() if names} == {}


def test_running_the_emulator_loads_no_shared_module() -> None:
    """Import every emulator module and serve one request in a fresh interpreter."""
    script = """
import importlib, json, pkgutil, sys, urllib.request
import local.emulator as package
for info in pkgutil.walk_packages(package.__path__, "local.emulator."):
    importlib.import_module(info.name)
with package.Emulator(package.Catalogue.default(env={})) as emulator:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(emulator.url + "/_emulator/stats") as answer:
        answer.read()
print(json.dumps(sorted(m for m in sys.modules if m == "shared" or m.startswith("shared."))))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
