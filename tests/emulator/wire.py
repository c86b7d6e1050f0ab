"""Requests to the emulator built the way the functions build them: `shared.payloads` bodies,
`sign_legacy` / `sign_v3` signing, sent with httpx."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from local.emulator import DEFAULT_APPID, DEFAULT_APPKEY, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, Emulator
from shared.outbound import OutboundRequest
from shared.payloads import V3_VERSION, ApiCall, encode_json, sign_legacy, sign_v3
from shared.signing import legacy_sig, tc3_headers

SIGN = "腾讯云"
CODE_TEMPLATE = "7839"  # one parameter
LIFETIME_TEMPLATE = "7840"  # two parameters
GLOBAL_TEMPLATE = "7841"  # international, one parameter
MOBILE = "+8613800138000"
MOBILE_2 = "+8613800138001"
US = "+12025550123"


class FakeClock:
    """A settable clock for the emulator (unix seconds)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def legacy_send_call(
    tels: Sequence[tuple[Any, Any]],
    *,
    multi: bool | None = None,
    tpl_id: Any = 7839,
    params: Sequence[Any] = ("5678",),
    sign: str = SIGN,
    ext: str = "",
) -> ApiCall:
    """A legacy template send to (nationcode, mobile) pairs, valid or not (no client-side checks)."""
    multi = len(tels) != 1 if multi is None else multi
    tel_objects = [{"nationcode": n, "mobile": m} for n, m in tels]
    body: dict[str, Any] = {"tel": tel_objects if multi else tel_objects[0]}
    body.update(
        {
            "sign": sign,
            "tpl_id": tpl_id,
            "params": list(params),
            "sig": "",
            "time": 0,
            "extend": "",
            "ext": ext,
        }
    )
    mobiles = tuple(str(m) for _, m in tels) or None
    return ApiCall("sendmultisms2" if multi else "sendsms", body, is_send=True, legacy_mobiles=mobiles)


def legacy_content_call(tels: Sequence[tuple[str, str]], msg: str, *, kind: int = 0) -> ApiCall:
    """A legacy plain-content send (`type` + `msg`)."""
    tel_objects = [{"nationcode": n, "mobile": m} for n, m in tels]
    body: dict[str, Any] = {"tel": tel_objects if len(tels) > 1 else tel_objects[0]}
    body.update({"type": kind, "msg": msg, "sig": "", "time": 0, "extend": "", "ext": ""})
    operation = "sendmultisms2" if len(tels) > 1 else "sendsms"
    return ApiCall(operation, body, is_send=True, legacy_mobiles=tuple(m for _, m in tels))


def v3_send_call(
    numbers: Sequence[str],
    *,
    template_id: str = CODE_TEMPLATE,
    params: Sequence[str] = ("5678",),
    sign: str | None = SIGN,
    app_id: str = DEFAULT_APPID,
    session_context: str = "",
) -> ApiCall:
    """A `SendSms` body for any numbers (no client-side checks)."""
    body: dict[str, Any] = {"PhoneNumberSet": list(numbers), "SmsSdkAppId": app_id, "TemplateId": template_id}
    if sign is not None:
        body["SignName"] = sign
    body["TemplateParamSet"] = list(params)
    if session_context:
        body["SessionContext"] = session_context
    return ApiCall("SendSms", body, phones=tuple(numbers), is_send=True)


class Wire:
    """Sends signed requests to one emulator and returns the decoded answers."""

    def __init__(self, emulator: Emulator, http: httpx.Client) -> None:
        self.emulator = emulator
        self.http = http

    def now(self) -> int:
        return int(self.emulator.clock())

    def post(self, request: OutboundRequest) -> httpx.Response:
        return self.http.post(request.url, headers=request.headers, content=request.content)

    # ------------------------------------------------------------------ legacy

    def legacy_request(
        self,
        call: ApiCall,
        *,
        appid: str = DEFAULT_APPID,
        appkey: str = DEFAULT_APPKEY,
        timestamp: int | None = None,
        random: int = 123456,
    ) -> OutboundRequest:
        return sign_legacy(
            call,
            base_url=self.emulator.url,
            appid=appid,
            appkey=appkey,
            timestamp=self.now() if timestamp is None else timestamp,
            random=random,
        )

    def legacy(self, call: ApiCall, **kwargs: Any) -> dict[str, Any]:
        """Sign and send a legacy call; the JSON answer (always HTTP 200)."""
        response = self.post(self.legacy_request(call, **kwargs))
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def legacy_raw(
        self, operation: str, body: bytes, *, query: str = "sdkappid=1400009099&random=1"
    ) -> dict[str, Any]:
        """POST raw bytes to a legacy path (for malformed requests)."""
        url = f"{self.emulator.url}/v5/tlssmssvr/{operation}?{query}"
        response = self.http.post(url, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def legacy_signed_body(
        self, operation: str, body: dict[str, Any], *, mobiles: Sequence[str] | None = None, random: int = 42
    ) -> dict[str, Any]:
        """Sign an arbitrary legacy body (sig over `mobiles`) and send it."""
        body = dict(body)
        body.setdefault("time", self.now())
        body.setdefault("sig", legacy_sig(DEFAULT_APPKEY, random, body["time"], mobiles))
        return self.legacy_raw(
            operation, json.dumps(body).encode(), query=f"sdkappid={DEFAULT_APPID}&random={random}"
        )

    # ------------------------------------------------------------------ API 3.0

    def v3_request(
        self,
        call: ApiCall,
        *,
        secret_id: str = DEFAULT_SECRET_ID,
        secret_key: str = DEFAULT_SECRET_KEY,
        token: str = "",
        timestamp: int | None = None,
        region: str = "ap-guangzhou",
    ) -> OutboundRequest:
        return sign_v3(
            call,
            base_url=self.emulator.url,
            secret_id=secret_id,
            secret_key=secret_key,
            session_token=token,
            region=region,
            timestamp=self.now() if timestamp is None else timestamp,
        )

    def v3(self, call: ApiCall, **kwargs: Any) -> dict[str, Any]:
        """Sign and send an API 3.0 call; the `Response` object (always HTTP 200)."""
        return self.v3_send(self.v3_request(call, **kwargs))

    def v3_bytes(self, action: str, content: bytes) -> dict[str, Any]:
        """Sign arbitrary body bytes (valid JSON or not) for `action` and send them."""
        headers = tc3_headers(
            secret_id=DEFAULT_SECRET_ID,
            secret_key=DEFAULT_SECRET_KEY,
            host=urlsplit(self.emulator.url).netloc,
            action=action,
            version=V3_VERSION,
            region="ap-guangzhou",
            timestamp=self.now(),
            payload=content,
        )
        return self.v3_send(OutboundRequest(self.emulator.url + "/", headers, content))

    def v3_send(self, request: OutboundRequest) -> dict[str, Any]:
        response = self.post(request)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        answer: dict[str, Any] = response.json()["Response"]
        assert answer["RequestId"]
        return answer


def error_code(response: dict[str, Any]) -> str | None:
    """`Response.Error.Code`, or None when the request succeeded."""
    error = response.get("Error")
    return None if error is None else str(error["Code"])


def v3_body(call: ApiCall) -> bytes:
    return encode_json(call.body)
