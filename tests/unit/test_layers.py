"""Dependencies are passed in, not fetched: only the entry layer reads the container's `Services`
(`shared.runtime`), every environment variable is parsed in `shared.config`, and use cases read the
time from `Services.clock`. These read the sources, so a new shortcut fails here, not in review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = sorted((ROOT / "shared").rglob("*.py"))
FUNCTIONS = sorted((ROOT / "functions").rglob("*.py"))

# the entry layer: it builds `Services` for the container and hands it to every use case
READS_RUNTIME = {"shared/entry.py", "shared/runtime.py"}
# where the process environment may be read: `Settings`, the platform detection (the platforms'
# own variables), and powertools' service name and namespace, which its Logger reads at import
READS_ENVIRONMENT = {"shared/config.py", "shared/hosting.py", "shared/observability.py"}
# the wall clock outside `Services.clock`: the schema migrations' applied-at stamps, the default
# of `Services`, and the signatures' timestamps (`SmsClient`), which Tencent checks against its own
# clock: they are always the real time, whatever clock a test gives the use cases
READS_WALL_CLOCK = {
    "shared/client.py",
    "shared/store/sqlite.py",
    "shared/store/postgres.py",
    "shared/services.py",
    "shared/runtime.py",
}


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _attributes(tree: ast.AST) -> set[str]:
    """Dotted names read in the module (`os.environ`, `time.time`, …)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            found.add(f"{node.value.id}.{node.attr}")
    return found


@pytest.mark.parametrize("path", SHARED + FUNCTIONS, ids=_name)
def test_only_the_entry_layer_reads_the_container_services(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if _name(path) not in READS_RUNTIME:
        assert not {"shared.runtime", "shared.runtime.runtime"} & _imports(tree), (
            f"{_name(path)} imports shared.runtime: take `services: Services` as an argument instead"
        )


@pytest.mark.parametrize("path", SHARED + FUNCTIONS, ids=_name)
def test_the_environment_is_read_in_settings_only(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if _name(path) not in READS_ENVIRONMENT:
        read = {"os.environ", "os.getenv", "os.environb"} & _attributes(tree)
        assert not read, f"{_name(path)} reads {read}: add the variable to shared.config.Settings"


@pytest.mark.parametrize("path", SHARED + FUNCTIONS, ids=_name)
def test_use_cases_take_the_time_from_services(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if _name(path) not in READS_WALL_CLOCK:
        assert "time.time" not in _attributes(tree), f"{_name(path)} reads time.time: use services.now()"
        assert "time.time" not in _imports(tree), f"{_name(path)} imports time.time: use services.now()"


def test_the_lists_of_exceptions_name_real_files() -> None:
    names = {_name(p) for p in SHARED + FUNCTIONS}
    assert names >= READS_RUNTIME | READS_ENVIRONMENT | READS_WALL_CLOCK
