"""The stored template catalogue on SQLite and PostgreSQL: replaced whole at each sync."""

from __future__ import annotations

from shared.store import Store
from shared.template_list import TencentTemplate

LIVE = TencentTemplate("7839", 0, 0, "", "登录", 1700000000, "{1}为您的登录验证码")
REVIEW = TencentTemplate("12", 1, 1, "", "new", 1700000100, "Code {1}")
BOTH = TencentTemplate("100", 3, -1, "内容不合规", "both", 1700000200, "{1}{2}")


def test_a_sync_replaces_the_whole_catalogue(store: Store) -> None:
    assert store.list_templates() == ([], 0)
    assert store.replace_templates([LIVE, REVIEW, BOTH], now=1000) == 3
    assert store.list_templates() == ([REVIEW, BOTH, LIVE], 1000)  # in template-id order
    assert store.replace_templates([BOTH], now=2000) == 1
    assert store.list_templates() == ([BOTH], 2000)
    assert store.replace_templates([], now=3000) == 0
    assert store.list_templates() == ([], 0)
