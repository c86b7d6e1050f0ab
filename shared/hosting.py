"""Which cloud platform this container runs on (from the variables each platform sets), and the
loud warning a per-container store deserves there."""

from __future__ import annotations

import os
from collections.abc import Mapping

from shared.observability import logger

PER_CONTAINER_WARNING = (
    "SMS_STORE_URL is a SQLite file inside this {platform} container: per-number limits, "
    "idempotency keys, one-time codes and receipts are per container here, so another container "
    "(of this function or any other) neither sees nor respects them. Use a shared store "
    "(dynamodb:// or postgresql://, docs/deploy.md)."
)


def cloud_platform(environ: Mapping[str, str] | None = None) -> str | None:
    """`"AWS Lambda"`, `"Tencent CloudBase"`, `"Tencent SCF"`, or None off the clouds (local runs,
    tests, serverless-offline)."""
    env = os.environ if environ is None else environ
    if env.get("IS_OFFLINE"):  # serverless-offline imitates Lambda's variables on a laptop
        return None
    if env.get("AWS_LAMBDA_FUNCTION_NAME") or env.get("AWS_EXECUTION_ENV", "").startswith("AWS_Lambda_"):
        return "AWS Lambda"
    if env.get("TCB_ENV") or env.get("TCB_CONTEXT_KEYS") or env.get("WX_CONTEXT_KEYS"):
        return "Tencent CloudBase"  # CloudBase runs on SCF: check it first
    if env.get("SCF_FUNCTIONNAME") or env.get("SCF_RUNTIME") or env.get("TENCENTCLOUD_RUNENV") == "SCF":
        return "Tencent SCF"
    return None


def warn_if_store_is_per_container(scheme: str, environ: Mapping[str, str] | None = None) -> bool:
    """Log one WARNING when a cloud container opens a SQLite store. Returns whether it warned."""
    platform = cloud_platform(environ)
    if platform is None or scheme != "sqlite":
        return False
    logger.warning(
        PER_CONTAINER_WARNING.format(platform=platform),
        extra={"store": scheme, "platform": platform, "shared_store": False},
    )
    return True
