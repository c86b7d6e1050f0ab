"""The front door stays one screen, every setting the code reads is documented, docs/api.md's
route table lists every declared route, docs/emulator.md every emulator module, and links resolve."""

from __future__ import annotations

import re
from pathlib import Path

from shared import routes

ROOT = Path(__file__).resolve().parents[2]
SETTING = re.compile(r"""["']((?:SMS|TENCENT|TENCENTCLOUD|POWERTOOLS)_[A-Z0-9_]+)["']""")


def test_readme_is_one_screen_plus_a_little() -> None:
    assert len((ROOT / "README.md").read_bytes()) < 10 * 1024


def test_readme_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    assert links, "README links to its docs"
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing


def test_links_between_docs_resolve() -> None:
    broken = [
        f"{doc.name}: {link}"
        for doc in sorted((ROOT / "docs").glob("*.md"))
        for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8"))
        if not (doc.parent / link).exists()
    ]
    assert not broken


def test_every_setting_read_by_the_code_is_documented() -> None:
    read = {
        name
        for path in [*(ROOT / "shared").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
        for name in SETTING.findall(path.read_text(encoding="utf-8"))
    }
    documented = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert len(read) > 30  # the pattern still finds the settings
    undocumented = sorted(name for name in read if f"`{name}`" not in documented)
    assert not undocumented


def test_every_declared_route_is_in_the_api_table() -> None:
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    rows = "\n".join(line for line in api.splitlines() if line.startswith("| `"))
    assert rows, "docs/api.md has its route table"

    def listed(route: routes.Declared) -> bool:
        # A parameter may be written `{name}` or as an example value (`/sms/callback/receipts`).
        path = re.sub(r"\\\{\w+\\\}", r"[^/?`\\s]+", re.escape(route.path))
        return re.search(rf"`{route.method} {path}[?`]", rows) is not None

    assert len(routes.TABLE) > 15  # the table is still the whole API
    missing = [route.key for route in routes.TABLE if not listed(route)]
    assert not missing


def test_the_emulator_doc_lists_every_module() -> None:
    doc = (ROOT / "docs" / "emulator.md").read_text(encoding="utf-8")
    modules = [p.name for p in (ROOT / "local" / "emulator").glob("*.py") if not p.name.startswith("__")]
    assert len(modules) > 8  # the emulator is still these modules
    unlisted = sorted(name for name in modules if f"`{name}`" not in doc)
    assert not unlisted
