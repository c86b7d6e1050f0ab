"""Request signing for both Tencent SMS protocols. Pure functions: time and randomness are arguments.

- Legacy v5 API (`qcloudsms_*` SDKs): `sig` = sha256 hex of
  `appkey=…&random=…&time=…[&mobile=m1,m2,…]` (reference §1.2).
- API 3.0: TC3-HMAC-SHA256 over a canonical request (reference §2.3).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import NamedTuple

TC3_ALGORITHM = "TC3-HMAC-SHA256"


def legacy_sig(appkey: str, random: int, time: int, mobiles: Sequence[str] | None = None) -> str:
    """The legacy `sig`: sends pass their national mobiles in request order, pulls pass none.

    An empty list is refused rather than guessed at: the SDKs disagree on its hash.
    """
    text = f"appkey={appkey}&random={random}&time={time}"
    if mobiles is not None:
        if not mobiles:
            raise ValueError("a legacy send signs at least one mobile")
        text += "&mobile=" + ",".join(map(str, mobiles))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def tc3_date(timestamp: int) -> str:
    """The UTC calendar date of `timestamp` (never local time)."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d")


def tc3_signing_key(secret_key: str, date: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC("TC3" + key, date), service), "tc3_request")."""
    k_date = _hmac(("TC3" + secret_key).encode("utf-8"), date)
    k_service = _hmac(k_date, service)
    return _hmac(k_service, "tc3_request")


def tc3_canonical_request(
    method: str,
    headers: Mapping[str, str],
    payload: bytes,
    *,
    uri: str = "/",
    query: str = "",
) -> tuple[str, str]:
    """(CanonicalRequest, SignedHeaders) for the headers to sign (name → value as sent)."""
    canonical = {name.lower(): str(value).strip().lower() for name, value in headers.items()}
    signed = sorted(canonical)
    canonical_headers = "".join(f"{name}:{canonical[name]}\n" for name in signed)
    signed_headers = ";".join(signed)
    request = "\n".join([method.upper(), uri, query, canonical_headers, signed_headers, sha256_hex(payload)])
    return request, signed_headers


def tc3_string_to_sign(timestamp: int, service: str, canonical_request: str) -> str:
    scope = f"{tc3_date(timestamp)}/{service}/tc3_request"
    return "\n".join([TC3_ALGORITHM, str(timestamp), scope, sha256_hex(canonical_request.encode("utf-8"))])


class Tc3Signature(NamedTuple):
    authorization: str
    signature: str
    canonical_request: str
    string_to_sign: str


def sign_tc3(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    timestamp: int,
    payload: bytes,
    signed_headers: Mapping[str, str],
    method: str = "POST",
) -> Tc3Signature:
    """Sign one API 3.0 request. `signed_headers` must hold Content-Type and Host exactly as sent."""
    canonical_request, signed_names = tc3_canonical_request(method, signed_headers, payload)
    string_to_sign = tc3_string_to_sign(timestamp, service, canonical_request)
    key = tc3_signing_key(secret_key, tc3_date(timestamp), service)
    signature = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    authorization = (
        f"{TC3_ALGORITHM} Credential={secret_id}/{tc3_date(timestamp)}/{service}/tc3_request, "
        f"SignedHeaders={signed_names}, Signature={signature}"
    )
    return Tc3Signature(authorization, signature, canonical_request, string_to_sign)


def tc3_headers(
    *,
    secret_id: str,
    secret_key: str,
    session_token: str = "",
    host: str,
    action: str,
    version: str,
    region: str,
    timestamp: int,
    payload: bytes,
    service: str = "sms",
    content_type: str = "application/json",
    language: str = "",
) -> dict[str, str]:
    """All headers of a signed API 3.0 POST, signing `content-type;host` as the official SDK does.

    The session token (role credentials) travels as `X-TC-Token`, outside the signature.
    """
    signature = sign_tc3(
        secret_id=secret_id,
        secret_key=secret_key,
        service=service,
        timestamp=timestamp,
        payload=payload,
        signed_headers={"Content-Type": content_type, "Host": host},
    )
    headers = {
        "Authorization": signature.authorization,
        "Content-Type": content_type,
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Version": version,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Region": region,
    }
    if session_token:
        headers["X-TC-Token"] = session_token
    if language:
        headers["X-TC-Language"] = language
    return headers


class Tc3Authorization(NamedTuple):
    """A parsed `Authorization: TC3-HMAC-SHA256 …` header."""

    secret_id: str
    date: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_tc3_authorization(value: str) -> Tc3Authorization | None:
    """Parse an Authorization header; None when it is not a well-formed TC3 header."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != TC3_ALGORITHM:
        return None
    parts: dict[str, str] = {}
    for piece in rest.split(","):
        name, sep, val = piece.strip().partition("=")
        if not sep:
            return None
        parts[name] = val
    credential = parts.get("Credential", "").split("/")
    if len(credential) != 4 or credential[3] != "tc3_request" or not parts.get("Signature"):
        return None
    signed = tuple(h for h in parts.get("SignedHeaders", "").split(";") if h)
    if not signed:
        return None
    return Tc3Authorization(credential[0], credential[1], credential[2], signed, parts["Signature"])
