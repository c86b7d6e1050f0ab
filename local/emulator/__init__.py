"""A Tencent Cloud SMS emulator on loopback: both protocols, verified signatures, receipts, faults.

    with Emulator() as emulator:          # or Emulator(Catalogue.from_file(path)).start()
        os.environ["TENCENT_SMS_ENDPOINT"] = emulator.url
        ...
        emulator.messages("+8613800138000")

Run it alone with `python -m local.emulator --port 9000`.
"""

from local.emulator.catalogue import (
    DEFAULT_APPID,
    DEFAULT_APPKEY,
    DEFAULT_SECRET_ID,
    DEFAULT_SECRET_KEY,
    DEFAULT_SIGN,
    App,
    Catalogue,
    Credential,
    FrequencyLimits,
    Template,
)
from local.emulator.engine import InboundReply, Receipt, SentMessage
from local.emulator.faults import Faults
from local.emulator.server import Emulator, RecordedRequest

__all__ = [
    "DEFAULT_APPID",
    "DEFAULT_APPKEY",
    "DEFAULT_SECRET_ID",
    "DEFAULT_SECRET_KEY",
    "DEFAULT_SIGN",
    "App",
    "Catalogue",
    "Credential",
    "Emulator",
    "Faults",
    "FrequencyLimits",
    "InboundReply",
    "Receipt",
    "RecordedRequest",
    "SentMessage",
    "Template",
]
