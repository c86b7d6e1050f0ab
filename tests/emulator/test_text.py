"""The emulator's text rules (reference §5.1): placeholders, the signature, billed parts."""

from __future__ import annotations

import pytest

from local.emulator.text import billed_parts, is_gsm7, placeholder_count, render, with_signature


def test_render_and_count_placeholders() -> None:
    text = "{1}为您的登录验证码，请于{2}分钟内填写。"
    assert placeholder_count(text) == 2
    assert placeholder_count("{1} and {1} again") == 1
    assert render(text, ["5678", "5"]) == "5678为您的登录验证码，请于5分钟内填写。"
    assert render("{1} {3}", ["a"]) == "a {3}"  # a placeholder without a parameter stays


def test_signature_is_shown_once() -> None:
    assert with_signature("腾讯云", "hi") == "【腾讯云】hi"
    assert with_signature("腾讯云", "【别的】hi") == "【别的】hi"
    assert with_signature("", "hi") == "hi"


def test_gsm7_alphabet() -> None:
    assert is_gsm7("Hello @ £ € {}")
    assert not is_gsm7("ā")
    assert not is_gsm7("你好")


@pytest.mark.parametrize(
    ("text", "international", "parts"),
    [
        ("字" * 70, False, 1),
        ("字" * 71, False, 2),
        ("字" * 150, False, 3),  # 67 + 67 + 16
        ("a" * 70, False, 1),  # mainland counts every character the same
        ("a" * 71, False, 2),
        ("a" * 160, True, 1),
        ("a" * 161, True, 2),
        ("a" * 320, True, 3),  # 153 + 153 + 14
        ("€" * 80, True, 1),  # extension characters count double: 160
        ("€" * 81, True, 2),
        ("é" * 160, True, 1),  # é is in the GSM-7 basic set
        ("ā" * 71, True, 2),  # not GSM-7 → UCS-2 rules
        ("😀" * 35, False, 1),  # outside the BMP: two units each
        ("😀" * 36, False, 2),
    ],
)
def test_billed_parts(text: str, international: bool, parts: int) -> None:
    assert billed_parts(text, international=international) == parts
