"""The catalogue: defaults from the environment, the JSON file format, template matching."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.emulator import (
    DEFAULT_APPID,
    DEFAULT_APPKEY,
    DEFAULT_SECRET_ID,
    DEFAULT_SECRET_KEY,
    Catalogue,
    FrequencyLimits,
    Template,
)


def test_default_catalogue_without_environment() -> None:
    catalogue = Catalogue.default(env={})

    [app] = catalogue.apps
    [credential] = catalogue.credentials
    assert (app.appid, app.appkey) == (DEFAULT_APPID, DEFAULT_APPKEY) == ("1400009099", DEFAULT_APPKEY)
    assert (credential.secret_id, credential.secret_key) == (DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY)
    assert credential.sdk_app_ids == ("1400009099",)
    assert credential.session_token == ""
    assert catalogue.signs == {"腾讯云"}
    assert {t.id: t.param_count for t in catalogue.templates.values()} == {
        "7839": 1,
        "7840": 2,
        "7841": 1,
        "7842": 1,
        "7843": 1,
        "7850": 1,
        "7851": 1,
        "7852": 1,
    }
    assert [t.id for t in catalogue.templates.values() if t.status != 0] == ["7842", "7843"]
    assert catalogue.templates["7841"].international
    assert catalogue.templates["7851"].international
    assert catalogue.templates["7852"].both  # International = 3: either region
    assert catalogue.max_param_length == 12
    assert not catalogue.frequency_limits.enabled


def test_default_catalogue_reads_the_functions_environment() -> None:
    catalogue = Catalogue.default(
        env={
            "TENCENT_SMS_APPID": "1400000001",
            "TENCENT_SMS_APPKEY": "appkey",
            "TENCENTCLOUD_SECRETID": "AKIDx",
            "TENCENTCLOUD_SECRETKEY": "key",
            "TENCENTCLOUD_SESSIONTOKEN": "token",
            "TENCENT_SMS_SDKAPPID": "1400000002",
        }
    )
    assert catalogue.app("1400000001") is not None
    credential = catalogue.credential("AKIDx")
    assert credential is not None
    assert (credential.secret_key, credential.session_token, credential.sdk_app_ids) == (
        "key",
        "token",
        ("1400000002",),
    )
    assert catalogue.sdk_app_ids == {"1400000001", "1400000002"}


def test_sdk_app_id_defaults_to_the_app_id() -> None:
    catalogue = Catalogue.default(env={"TENCENT_SMS_APPID": "1400000007"})
    assert catalogue.credentials[0].sdk_app_ids == ("1400000007",)


def test_file_replaces_only_the_sections_it_has(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.json"
    path.write_text(
        json.dumps(
            {
                "signs": ["测试"],
                "templates": {"1": "Hi {1}", "2": {"text": "Code {1}", "international": True}},
                "max_param_length": 6,
                "frequency_limits": {"thirty_seconds": 1, "one_day": 10},
            }
        ),
        encoding="utf-8",
    )
    catalogue = Catalogue.from_file(path, env={})

    assert catalogue.signs == {"测试"}
    assert catalogue.templates == {
        "1": Template("1", "Hi {1}"),
        "2": Template("2", "Code {1}", international=True),
    }
    assert catalogue.max_param_length == 6
    assert catalogue.frequency_limits == FrequencyLimits(thirty_seconds=1, one_day=10)
    assert catalogue.apps == Catalogue.default(env={}).apps


def test_file_with_apps_and_credentials(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.json"
    path.write_text(
        json.dumps(
            {
                "apps": [{"appid": "1400000009", "appkey": "k"}],
                "credentials": [{"secret_id": "AKIDy", "secret_key": "s", "sdk_app_ids": ["1400000009"]}],
                "templates": [{"id": "5", "text": "x"}],
            }
        ),
        encoding="utf-8",
    )
    catalogue = Catalogue.from_file(path, env={})
    assert [a.appid for a in catalogue.apps] == ["1400000009"]
    assert catalogue.credential("AKIDy") is not None
    assert catalogue.templates["5"].param_count == 0


def test_file_must_hold_an_object(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.json"
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(ValueError, match="holds a JSON object"):
        Catalogue.from_file(path, env={})


def test_template_matching() -> None:
    template = Template("1", "{1}和{2}，再说一次{1}。")
    assert template.param_count == 2
    assert template.match("甲和乙，再说一次甲。") == ("甲", "乙")
    assert template.match("甲和乙，再说一次丙。") is None
    assert Template("2", "a.b (c)*").match("a.b (c)*") == ()
    assert Template("2", "a.b (c)*").match("axb (c)*") is None


def test_content_matching_respects_the_region_class() -> None:
    catalogue = Catalogue.default(env={})
    assert catalogue.match_content("Your verification code is 1.", international=True) is not None
    assert catalogue.match_content("Your verification code is 1.", international=False) is None
