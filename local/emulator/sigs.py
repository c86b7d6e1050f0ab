"""Tencent's two request signatures, checked the way Tencent checks them (reference §1.2, §2.3).

Written from the reference, not shared with the functions' signer: a mistake on their side must
show up here as a refusal, not pass on both sides.

- Legacy v5: `sig` = lowercase hex SHA-256 of `appkey=…&random=…&time=…`, plus `&mobile=m1,m2,…`
  for sends (the national numbers in `tel` order); pulls sign no mobile.
- API 3.0: TC3-HMAC-SHA256 over a canonical request built from the headers the client says it
  signed, as received, and the exact body. Tencent's host carries no port, so SDKs that drop the
  port of a custom endpoint (the Node.js SDK does) sign the host without it: both forms pass.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from typing import NamedTuple

ALGORITHM = "TC3-HMAC-SHA256"
TERMINATOR = "tc3_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


def legacy_sig(appkey: str, random: int, timestamp: int, mobiles: Sequence[str] | None) -> str:
    """The `sig` a legacy request must carry; `mobiles` is None for pulls."""
    text = f"appkey={appkey}&random={random}&time={timestamp}"
    if mobiles is not None:
        text = f"{text}&mobile={','.join(mobiles)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Authorization(NamedTuple):
    """The parts of `Authorization: TC3-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`."""

    secret_id: str
    date: str  # the credential scope's date, YYYY-MM-DD
    service: str
    signed_headers: tuple[str, ...]  # lower-case names, in the order given
    signature: str


def parse_authorization(value: str) -> Authorization | None:
    """The parsed header, or None when it is not a well-formed TC3 authorization."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        return None
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, equals, val = part.strip().partition("=")
        if not equals or key in fields:
            return None
        fields[key] = val.strip()
    scope = fields.get("Credential", "").split("/")
    signed = [name for name in fields.get("SignedHeaders", "").split(";") if name]
    signature = fields.get("Signature", "")
    if len(scope) != 4 or scope[3] != TERMINATOR or not all(scope[:3]) or not signed or not signature:
        return None
    return Authorization(scope[0], scope[1], scope[2], tuple(n.lower() for n in signed), signature)


def utc_date(timestamp: int) -> str:
    """The scope date: the UTC calendar date of the timestamp (§2.3 step 3)."""
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac_sha256(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def tc3_signature(
    *,
    secret_key: str,
    service: str,
    timestamp: int,
    method: str,
    headers: Mapping[str, str],
    payload_hash: str,
) -> str:
    """The hex signature over `headers` (lower-case name → value as sent, exactly the signed ones)."""
    names = sorted(headers)
    canonical_headers = "".join(f"{name}:{headers[name].strip().lower()}\n" for name in names)
    canonical_request = "\n".join([method.upper(), "/", "", canonical_headers, ";".join(names), payload_hash])
    date = utc_date(timestamp)
    string_to_sign = "\n".join(
        [
            ALGORITHM,
            str(timestamp),
            f"{date}/{service}/{TERMINATOR}",
            _sha256_hex(canonical_request.encode("utf-8")),
        ]
    )
    key = _hmac_sha256(f"TC3{secret_key}".encode(), date)
    key = _hmac_sha256(key, service)
    key = _hmac_sha256(key, TERMINATOR)
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def host_forms(host: str) -> tuple[str, ...]:
    """The Host values a signature may cover: as received, and without its port when it has one."""
    if host.startswith("["):  # an IPv6 literal: [::1]:8080
        bracket = host.find("]")
        if bracket > 0 and host[bracket + 1 : bracket + 2] == ":" and host[bracket + 2 :].isdigit():
            return host, host[: bracket + 1]
        return (host,)
    name, colon, port = host.rpartition(":")
    if colon and name and port.isdigit():
        return host, name
    return (host,)


def verify_tc3(
    auth: Authorization,
    *,
    secret_key: str,
    timestamp: int,
    method: str,
    headers: Mapping[str, str],
    body: bytes,
) -> bool:
    """Whether `auth.signature` signs this request. `headers` has lower-case names; every signed
    header must be present (the caller checks). The body hash is of the exact bytes received, or
    of the literal `UNSIGNED-PAYLOAD` when `X-TC-Content-SHA256` says so."""
    unsigned = headers.get("x-tc-content-sha256", "") == UNSIGNED_PAYLOAD
    payload_hash = _sha256_hex(UNSIGNED_PAYLOAD.encode() if unsigned else body)
    signed = {name: headers[name] for name in auth.signed_headers}
    hosts = host_forms(signed["host"]) if "host" in signed else (None,)
    for host in hosts:
        if host is not None:
            signed["host"] = host
        expected = tc3_signature(
            secret_key=secret_key,
            service=auth.service,
            timestamp=timestamp,
            method=method,
            headers=signed,
            payload_hash=payload_hash,
        )
        if hmac.compare_digest(expected, auth.signature):
            return True
    return False
