"""The rules over a row's times, checked once every column is parsed: freshness of the event
time (`event_time_in_future`, `event_time_too_old`) and label timing
(`label_time_before_event`, `label_time_in_future`, `label_without_time`). They are apart from
the per-column rules because they read several typed columns and the clock (`now`), and they
word their reasons in ISO-8601 UTC with how far off each row is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops_shared.contracts.masks import Failure, np_mask, true_rows, valid_rows
from fraudops_shared.contracts.schema import Contract


def freshness(
    contract: Contract, typed: dict[str, pa.ChunkedArray], now: datetime
) -> list[Failure]:
    times = typed[contract.event_time]
    if not pa.types.is_timestamp(times.type):
        return []
    out = []
    name = contract.event_time
    if contract.max_future_seconds is not None:
        limit = now + timedelta(seconds=contract.max_future_seconds)
        ahead = true_rows(pc.greater(times, pa.scalar(limit, times.type)))
        if ahead.any():
            out.append(
                Failure(
                    "event_time_in_future",
                    ahead,
                    _ahead(name, times, now, contract.max_future_seconds),
                )
            )
    if contract.max_age_days is not None:
        oldest = now - timedelta(days=contract.max_age_days)
        old = true_rows(pc.less(times, pa.scalar(oldest, times.type)))
        if old.any():
            days = contract.max_age_days

            def too_old(rows: np.ndarray) -> list[str]:
                shown, micros = _times(times, rows)
                ages = (_micros(now) - micros) // 86_400_000_000
                return [
                    f"{name}={t} is {a} days old (at most {days:.0f} days allowed)"
                    for t, a in zip(shown, ages.tolist(), strict=True)
                ]

            out.append(Failure("event_time_too_old", old, too_old))
    return out


def labels(
    contract: Contract,
    typed: dict[str, pa.ChunkedArray],
    present: dict[str, np.ndarray],
    now: datetime,
) -> list[Failure]:
    """Label timing, for a contract whose label names its time column: a label is known after
    the event, not after now (within the clock skew `max_future_seconds` allows), and a label
    without the time it became known cannot be trained on point-in-time."""
    label, label_time = contract.label, contract.label_time
    if label is None or label_time is None:
        return []
    times = typed[label_time]
    events = typed[contract.event_time]
    out = []
    if pa.types.is_timestamp(events.type):
        before = true_rows(pc.less(times, events.cast(times.type)))
        if before.any():

            def early(rows: np.ndarray) -> list[str]:
                shown, _ = _times(times, rows)
                event, _ = _times(events, rows)
                return [
                    f"{label_time}={t} is before {contract.event_time}={e}"
                    for t, e in zip(shown, event, strict=True)
                ]

            out.append(Failure("label_time_before_event", before, early))
    skew = contract.max_future_seconds or 0.0
    limit = now + timedelta(seconds=skew)
    ahead = true_rows(pc.greater(times, pa.scalar(limit, times.type)))
    if ahead.any():
        out.append(Failure("label_time_in_future", ahead, _ahead(label_time, times, now, skew)))
    labelled = valid_rows(typed[label])
    unlabelled_time = labelled & ~present[label_time]
    if unlabelled_time.any():

        def missing(rows: np.ndarray) -> list[str]:
            values = typed[label].take(pa.array(rows)).to_pylist()
            return [f"{label}={v!r} is set but {label_time} is missing" for v in values]

        out.append(Failure("label_without_time", unlabelled_time, missing))
    return out


def _ahead(
    name: str, times: pa.ChunkedArray, now: datetime, allowed: float
) -> Callable[[np.ndarray], list[str]]:
    def describe(rows: np.ndarray) -> list[str]:
        shown, micros = _times(times, rows)
        seconds = (micros - _micros(now)) / 1e6
        return [
            f"{name}={t} is {s:.0f} s in the future (at most {allowed:.0f} s allowed)"
            for t, s in zip(shown, seconds.tolist(), strict=True)
        ]

    return describe


def _times(times: pa.ChunkedArray, rows: np.ndarray) -> tuple[list[str], np.ndarray]:
    """ISO-8601 UTC text (as `rules.iso`) and microseconds of the given rows, vectorised."""
    taken = times.take(pa.array(rows)).cast(pa.timestamp("us", tz="UTC"))
    text = pc.replace_substring(pc.cast(taken, pa.string()), " ", "T", max_replacements=1)
    text = pc.replace_substring_regex(text, r"\.000000Z$", "Z")
    micros = np_mask(pc.fill_null(taken.cast(pa.int64()), 0))
    return text.to_pylist(), micros


def _micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
