"""The project's Tencent SMS emulator, with number parsing precomputed for the benchmark's pool.

    python bench/fast_emulator.py --port 0 --latency-ms 30 --pool 100000 [other local.emulator options]

Exactly `python -m local.emulator`, except that the emulator's two uses of `phonenumbers` per
number (parsing a destination, ~60 µs, and the API 3.0 answer's `IsoCode`, ~25 µs; each memoised
for only 65,536 numbers) answer the benchmark's pool of mainland numbers (`+86138xxxxxxxx`) from a
table built at start-up and checked against the real functions on a sample. Unpatched, the
emulator spends ~85 µs of CPU per number of a 100,000-number run and serves at most ~12,000
numbers/s on its one core: every client would measure the emulator. Numbers outside the pool are
handled exactly as before.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import _support

from local.emulator import __main__ as cli
from local.emulator import engine, v3

Parsed = tuple[str, str, str] | None


def install(pool_size: int) -> None:
    """Answer `engine._parse_number` for the first `pool_size` pool numbers from a table."""
    original: Callable[[str, str | None], Parsed] = engine._parse_number
    table: dict[tuple[str, str | None], Parsed] = {}
    for index in range(pool_size):
        mobile = _support.national(index)
        value = ("+86" + mobile, "86", mobile)
        table[(value[0], None)] = value  # API 3.0: E.164
        table[(mobile, "86")] = value  # legacy: nationcode + mobile
    step = max(1, pool_size // 97)
    for index in [*range(0, pool_size, step), pool_size - 1]:
        mobile = _support.national(index)
        for key in (("+86" + mobile, None), (mobile, "86")):
            if original(*key) != table[key]:
                raise SystemExit(f"pool number {mobile} does not parse as expected: {original(*key)}")

    def parse_number(text: str, nationcode: str | None) -> Parsed:
        key = (text, nationcode)
        return table[key] if key in table else original(text, nationcode)

    original_iso: Callable[[str], str] = v3._iso_code
    mainland = {value[0] for value in table.values() if value is not None}
    for index in [*range(0, pool_size, step), pool_size - 1]:
        if original_iso("+86" + _support.national(index)) != "CN":
            raise SystemExit("a pool number is not a CN number")

    def iso_code(e164: str) -> str:
        return "CN" if e164 in mainland else original_iso(e164)

    engine._parse_number = parse_number  # type: ignore[assignment]
    v3._iso_code = iso_code  # type: ignore[assignment]


def main() -> int:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--pool", type=int, default=_support.DEFAULT_NUMBERS)
    known, rest = parser.parse_known_args()
    if known.pool:
        install(known.pool)
    return cli.main(rest)


if __name__ == "__main__":
    sys.exit(main())
