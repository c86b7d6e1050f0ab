"""One name, one class: no two classes under shared/ share a name (a reader who meets
`HttpRequest` must not have to ask which one)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"


def test_no_two_classes_in_shared_share_a_name() -> None:
    where: defaultdict[str, list[str]] = defaultdict(list)
    for path in sorted(SHARED.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.ClassDef):
                where[node.name].append(str(path.relative_to(SHARED.parent)))
    assert {name: paths for name, paths in where.items() if len(paths) > 1} == {}
