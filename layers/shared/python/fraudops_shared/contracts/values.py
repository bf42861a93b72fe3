"""Contract values in plain Python, for checking records without pyarrow (`contracts.records`).

The vectorised validation parses text with Arrow's casts and words its reasons in
`contracts.rules`, `casts`, `text_checks` and `timing`, all of which import pyarrow. A scoring
Lambda that ships onnxruntime and numpy only needs the same answers, so this module writes down
what those casts accept (measured against pyarrow, not guessed: tests/unit/contracts/
test_records.py holds the two to each other value by value) and the words of the reasons:

- float64: `[+-]digits[.digits][e[+-]digits]` in ASCII, finite (NaN and infinities parse in
  Arrow but are refused by the contract's `type` rule, so here they do not parse at all);
- int64: `-digits` within int64, or `0x` and 1 to 16 hex digits read as the 64 bits of a
  two's-complement integer (Arrow's hex form: 0xFFFFFFFFFFFFFFFF is -1);
- bool: true/false/1/0 in any ASCII case;
- timestamp: `YYYY-MM-DD[T ]hh[:mm[:ss[.f{1,6}]]]` then `Z` or `+-hh[[:]mm]` (a zone is
  required), a real calendar date (years 0000-9999), held as integer microseconds since the
  epoch so that any instant Arrow reads (years -1 to 10000 after the offset) compares and is
  worded as Arrow words it.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The words of each rule, as contracts.casts.TYPE_WORDS and contracts.text_checks have them.
TYPE_WORDS = {
    "float64": "is not a number",
    "int64": "is not an integer",
    "timestamp": "is not an ISO-8601 timestamp with a UTC offset (e.g. 2026-11-27T10:15:00Z)",
    "bool": "is not a boolean (true/false/1/0)",
    "string": "is not a text value",
}
CONTROL = "".join(map(chr, [*range(0x00, 0x20), *range(0x7F, 0xA0)]))
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")

_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DECIMAL = re.compile(r"-?[0-9]+")
_HEX = re.compile(r"0[xX][0-9a-fA-F]{1,16}")
_BOOLS = {"true": True, "false": False, "1": True, "0": False}
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2})"
    r"(?::([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?)?"
    r"(?:Z|([+-])([0-9]{2})(?::?([0-9]{2}))?)"
)
_INT64 = (-(1 << 63), (1 << 63) - 1)
_DAY_US = 86_400_000_000
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = EPOCH.toordinal()


def _utc_zone() -> tzinfo:
    """pyarrow gives its UTC datetimes the zoneinfo UTC; without a time zone database (some
    minimal images) datetime's own UTC is the same instant and offset."""
    try:
        return ZoneInfo("UTC")
    except ZoneInfoNotFoundError:  # pragma: no cover - depends on the image
        return UTC


UTC_ZONE = _utc_zone()
_EPOCH_ZONED = EPOCH.replace(tzinfo=UTC_ZONE)


# ----------------------------------------------------------------------------- parsing


def parse_float(text: str) -> float | None:
    """A finite float64, or None (not a number, NaN or infinite: the `type` rule)."""
    if not _FLOAT.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def parse_int(text: str) -> int | None:
    """An int64 in Arrow's decimal or hex form, or None."""
    if _DECIMAL.fullmatch(text):
        digits = text.lstrip("-").lstrip("0")
        if len(digits) > 19:  # beyond int64 (and int()'s limit on digits is far away)
            return None
        value = int(text)
        return value if _INT64[0] <= value <= _INT64[1] else None
    if _HEX.fullmatch(text):
        value = int(text[2:], 16)
        return value - (1 << 64) if value > _INT64[1] else value
    return None


def parse_bool(text: str) -> bool | None:
    return _BOOLS.get(text.lower()) if len(text) <= 5 and text.isascii() else None


def parse_timestamp(text: str) -> int | None:
    """Microseconds since the epoch (UTC) of an ISO-8601 time with a zone, or None."""
    found = _TIMESTAMP.fullmatch(text)
    if found is None:
        return None
    year, month, day, hour, minute, second, fraction, sign, zh, zm = found.groups()
    y, m, d, hh = int(year), int(month), int(day), int(hour)
    mi, ss = int(minute or 0), int(second or 0)
    if not 1 <= m <= 12 or hh > 23 or mi > 59 or ss > 59:
        return None
    leap = m == 2 and y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not 1 <= d <= _MONTH_DAYS[m - 1] + leap:
        return None
    offset = 0
    if sign is not None:
        oh, om = int(zh), int(zm or 0)
        if oh > 23 or om > 59:
            return None
        offset = (oh * 60 + om) * 60 * (1 if sign == "+" else -1)
    seconds = days_from_civil(y, m, d) * 86_400 + hh * 3600 + mi * 60 + ss - offset
    return seconds * 1_000_000 + (int(fraction.ljust(6, "0")) if fraction else 0)


PARSERS: dict[str, Any] = {
    "float64": parse_float,
    "int64": parse_int,
    "bool": parse_bool,
    "timestamp": parse_timestamp,
}


def python_pattern(pattern: str) -> re.Pattern[str]:
    """A contract pattern (RE2, as Arrow matches it) for Python's `re`, unanchored as Arrow
    searches: `$` outside a class becomes `\\Z` (RE2's `$` is the end of the text, Python's also
    matches before a final newline) and classes are ASCII (RE2's \\d, \\w, \\s and \\b are; only
    \\s still differs, by \\v, which RE2 leaves out: no contract pattern uses \\s)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class, opened = False, -1
    while i < n:
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = not (c == "]" and i != opened)  # "]" first in a class is literal
        elif c == "[":
            in_class = True
            opened = i + 2 if pattern.startswith("[^", i) else i + 1
            out.append(pattern[i:opened])
            i = opened
            continue
        elif c == "$":
            c = r"\Z"
        out.append(c)
        i += 1
    return re.compile("".join(out), re.ASCII)


def hidden_characters(value: str) -> bool:
    """The `identifier` rule: a control or zero-width character, or whitespace at an end."""
    return bool(
        _HIDDEN.search(value) or (value and (value[0] in WHITESPACE or value[-1] in WHITESPACE))
    )


# ----------------------------------------------------------------------------- times


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date, any year (H. Hinnant's algorithm:
    Python's date stops at year 1, Arrow reads year 0)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    return era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468


def civil_from_days(days: int) -> tuple[int, int, int]:
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (as contracts.timing counts them)."""
    return (moment - EPOCH) // timedelta(microseconds=1)


_MIN_US = micros(datetime.min.replace(tzinfo=UTC))
_MAX_US = micros(datetime.max.replace(tzinfo=UTC))


def as_datetime(us: int) -> datetime | None:
    """The aware datetime pyarrow gives for a timestamp[us, UTC], None outside years 1-9999."""
    if not _MIN_US <= us <= _MAX_US:
        return None
    return _EPOCH_ZONED + timedelta(microseconds=us)


def as_date(us: int) -> date:
    """The UTC calendar date of an instant (the `date` partition transform)."""
    return date.fromordinal(us // _DAY_US + _EPOCH_ORDINAL)


def iso(us: int) -> str:
    """An instant as Arrow's string cast writes it in the reasons: `T`, `Z`, the fraction only
    when there is one (six digits), any year (-0001, 10000)."""
    days, rest = divmod(us, _DAY_US)
    y, m, d = civil_from_days(days)
    seconds, fraction = divmod(rest, 1_000_000)
    hh, left = divmod(seconds, 3600)
    year = f"{y:04d}" if y >= 0 else f"-{-y:04d}"
    text = f"{year}-{m:02d}-{d:02d}T{hh:02d}:{left // 60:02d}:{left % 60:02d}"
    return f"{text}.{fraction:06d}Z" if fraction else f"{text}Z"


# ----------------------------------------------------------------------------- reasons


def show(value: Any, raw: bool = True) -> str:
    """A value in a reason, as contracts.rules shows it (text quoted and cut at 80)."""
    if raw and isinstance(value, str):
        return repr(value if len(value) <= 80 else value[:77] + "...")
    return repr(value)


def number(value: float) -> str:
    """A contract limit in a reason: whole numbers without `.0` (contracts.rules._num)."""
    return (
        str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))
    )


def identifier_problem(name: str, value: str) -> str:
    """Why `value` is not an identifier (contracts.text_checks.identifier_problem)."""
    problems = []
    control = next((c for c in value if c in CONTROL), None)
    if control is not None:
        problems.append(f"contains the control character U+{ord(control):04X}")
    zero_width = next((c for c in value if c in ZERO_WIDTH), None)
    if zero_width is not None:
        problems.append(f"contains the zero-width character U+{ord(zero_width):04X}")
    if value[:1] in WHITESPACE or value[-1:] in WHITESPACE:
        problems.append("has leading or trailing whitespace")
    return f"{name} {' and '.join(problems)}"
