"""Synthetic data, deterministic by seed: card transactions with fraud patterns, the public
credit-card benchmark's shape, writers for CSV/JSONL/Parquet, and bad-row injection.

Tests, demos and benchmarks need data that looks like a card issuer's (habits per card, a daily
cycle, fraud that is sometimes obvious and sometimes not, labels that come late) without anyone
downloading real card data. Everything is vectorised with numpy: a million rows in seconds.
"""

from __future__ import annotations

import gzip as gzip_module
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops_shared.contracts import load_contract

# Home markets of the issuer's card holders (weights), and the currency of each country used.
HOME = {"DE": 0.30, "FR": 0.18, "NL": 0.12, "GB": 0.12, "ES": 0.10, "IT": 0.10, "BE": 0.08}
TRAVEL = ["ES", "IT", "FR", "PT", "GR", "US", "GB", "DE", "AT", "CH", "HR", "TR", "TH", "NL"]
RISKY = ["NG", "RU", "BR", "RO", "VN", "ID", "UA", "PH", "MY", "CN"]
CURRENCY = {
    "DE": "EUR", "FR": "EUR", "NL": "EUR", "ES": "EUR", "IT": "EUR", "BE": "EUR", "PT": "EUR",
    "GR": "EUR", "AT": "EUR", "HR": "EUR", "GB": "GBP", "US": "USD", "CH": "CHF", "TR": "TRY",
    "TH": "THB", "NG": "NGN", "RU": "RUB", "BR": "BRL", "RO": "RON", "VN": "VND", "ID": "IDR",
    "UA": "UAH", "PH": "PHP", "MY": "MYR", "CN": "CNY",
}  # fmt: skip
# Everyday MCCs (leading zeros on purpose: 0742 vets, 0780 landscaping) and their amount offset.
MCC_SPEND = {
    "5411": 0.0, "5812": 0.1, "5814": -0.8, "5541": 0.3, "5912": -0.3, "5311": 0.4, "5691": 0.8,
    "5732": 1.2, "5942": -0.2, "4111": -1.0, "4121": -0.2, "5999": 0.2, "7011": 1.5, "4511": 2.0,
    "0742": 0.9, "0780": 1.0, "5815": -1.5, "5816": -1.2, "5967": -0.5, "7832": -0.4,
}  # fmt: skip
ATM_MCC = "6011"
ATO_MCCS = ["5732", "5944", "5045", "5311"]
TESTING_MCC = "5816"
HOUR_WEIGHTS = np.array(
    [2, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 10, 11, 10, 9, 9, 9, 10, 11, 11, 10, 8, 6, 4], float
)
PATTERNS = ("account_takeover", "card_testing", "cash_out_abroad", "stealth")
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


# ----------------------------------------------------------------------------- transactions


def generate_transactions(
    n: int,
    seed: int,
    start: datetime,
    days: int = 30,
    fraud_rate: float = 0.003,
    drift: float = 0.0,
    label_delay: timedelta = timedelta(days=21),
    *,
    as_of: datetime | None = None,
    n_cards: int | None = None,
) -> pa.Table:
    """`n` transactions over `days` from `start`, typed per the `transactions` contract.

    Labels are known only when `event_time + delay <= as_of` (default: the end of the period),
    the delay being ~`label_delay` per transaction, so the newest rows have `is_fraud` null.
    `drift` (0..1) moves spend up, towards ecom and abroad, for monitoring tests. Rows are sorted
    by event time; the table has a `fraud_pattern` column removed (see `fraud_patterns`).
    """
    table, _ = generate_transactions_with_patterns(
        n, seed, start, days, fraud_rate, drift, label_delay, as_of=as_of, n_cards=n_cards
    )
    return table


def generate_transactions_with_patterns(
    n: int,
    seed: int,
    start: datetime,
    days: int = 30,
    fraud_rate: float = 0.003,
    drift: float = 0.0,
    label_delay: timedelta = timedelta(days=21),
    *,
    as_of: datetime | None = None,
    n_cards: int | None = None,
) -> tuple[pa.Table, pa.Array]:
    """As `generate_transactions`, plus the fraud pattern of each row ("" for genuine ones)."""
    if n < 0 or days <= 0 or not 0 <= fraud_rate < 0.5:
        raise ValueError("need n >= 0, days > 0 and 0 <= fraud_rate < 0.5")
    start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    as_of = as_of or start + timedelta(days=days)
    rng = np.random.default_rng(seed)
    world = _World(rng, n_cards or int(np.clip(n // 100, 50, 5000)), drift)
    period = days * 86400
    n_fraud = round(n * fraud_rate)
    parts = [world.genuine(n - n_fraud, period)]
    parts += world.fraud(n_fraud, period)
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(cols["t"], kind="stable")
    cols = {k: v[order] for k, v in cols.items()}
    count = len(order)

    start_us = int(start.timestamp()) * 1_000_000
    event_us = start_us + cols["t"].astype(np.int64) * 1_000_000
    fraud = cols["pattern"] != ""
    factor = rng.lognormal(0.0, np.where(fraud, 0.5, 0.25))
    delay_us = (label_delay.total_seconds() * factor * 1e6).astype(np.int64)
    label_us = event_us + delay_us
    known = label_us <= int(as_of.timestamp() * 1_000_000)
    ts = pa.timestamp("us", tz="UTC")
    device = cols["device"]
    ip = cols["ip_country"]
    arrays = {
        "transaction_id": _uuids(rng, count),
        "event_time": pa.array(event_us, ts),
        "card_id": pa.array(world.card_ids[cols["card"]]),
        "customer_id": pa.array(world.customer_ids[cols["card"]]),
        "merchant_id": pa.array(cols["merchant"]),
        "mcc": pa.array(cols["mcc"]),
        "amount": pa.array(cols["amount"]),
        "currency": pa.array(cols["currency"]),
        "country": pa.array(cols["country"]),
        "merchant_country": pa.array(cols["merchant_country"]),
        "channel": pa.array(cols["channel"]),
        "entry_mode": pa.array(cols["entry_mode"]),
        "card_present": pa.array(cols["card_present"]),
        "device_id": pa.array(device, pa.string(), mask=device == ""),
        "ip_country": pa.array(ip, pa.string(), mask=ip == ""),
        "is_fraud": pa.array(fraud, pa.bool_(), mask=~known),
        "label_time": pa.array(label_us, ts, mask=~known),
    }
    schema = load_contract("transactions").arrow_schema()
    table = pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema)
    return table, pa.array(cols["pattern"])


class _World:
    """Cards, customers and merchants, with each card's habits."""

    def __init__(self, rng: np.random.Generator, n_cards: int, drift: float) -> None:
        self.rng = rng
        self.drift = drift
        homes = list(HOME)
        self.n_cards = n_cards
        self.home = np.array(homes)[rng.choice(len(homes), n_cards, p=list(HOME.values()))]
        n_customers = max(1, int(n_cards * 0.8))  # some customers hold two cards
        self.customer_ids = np.array([f"cus_{i:07d}" for i in rng.permutation(n_customers)])[
            rng.integers(0, n_customers, n_cards)
        ]
        self.card_ids = np.array([f"card_{x:016x}" for x in rng.integers(0, 2**63, n_cards)])
        self.devices = np.array([f"dev_{x:012x}" for x in rng.integers(0, 2**47, n_cards)])
        self.activity = rng.gamma(2.0, 1.0, n_cards)
        self.activity /= self.activity.sum()
        self.spend_mu = rng.normal(3.1, 0.45, n_cards) + 0.5 * drift
        self.spend_sigma = rng.uniform(0.5, 0.9, n_cards)
        self.ecom_share = np.clip(rng.beta(2, 5, n_cards) + 0.3 * drift, 0, 0.95)
        self.travel_share = 0.03 + 0.2 * drift
        mccs = list(MCC_SPEND)
        self.usual = np.array([rng.choice(mccs, 4, replace=False) for _ in range(n_cards)])
        # merchants: per (mcc, country) a few ids, so habits repeat merchants
        self.mccs = np.array(mccs)

    def merchant(self, mcc: np.ndarray, country: np.ndarray, slots: int = 12) -> np.ndarray:
        pick = self.rng.integers(0, slots, len(mcc))
        return np.array(
            [f"m_{c}_{m}_{p}" for c, m, p in zip(country, mcc, pick.tolist(), strict=True)],
            dtype=object,
        )

    def genuine(self, n: int, period: int) -> dict[str, np.ndarray]:
        rng = self.rng
        card = rng.choice(self.n_cards, n, p=self.activity)
        t = _times(rng, n, period)
        home = self.home[card]
        u = rng.random(n)
        ecom = u < self.ecom_share[card] * 0.9
        moto = (u >= self.ecom_share[card] * 0.9) & (u < self.ecom_share[card])
        atm = (~ecom & ~moto) & (rng.random(n) < 0.06)
        pos = ~ecom & ~moto & ~atm
        mcc = self.usual[card, rng.integers(0, 4, n)]
        mcc = np.where(atm, ATM_MCC, mcc)
        travel = rng.random(n) < self.travel_share
        abroad = np.array(TRAVEL)[rng.integers(0, len(TRAVEL), n)]
        country = np.where(travel & ~ecom & ~moto, abroad, home)
        cross_border = ecom & (rng.random(n) < 0.2 + 0.2 * self.drift)
        country = np.where(cross_border, abroad, country)
        mcc_offset = _lookup(mcc, MCC_SPEND)
        amount = rng.lognormal(self.spend_mu[card] + mcc_offset, self.spend_sigma[card])
        amount = np.where(atm, 20.0 * rng.integers(1, 15, n), amount)
        entry = np.where(
            ecom,
            "ecom",
            np.where(
                moto,
                "manual",
                np.array(["chip", "contactless", "swipe"])[_choice(rng, n, [0.45, 0.5, 0.05])],
            ),
        )
        entry = np.where(atm, "chip", entry)
        channel = np.select([ecom, moto, atm], ["ecom", "moto", "atm"], "pos")
        device = np.where(ecom, self.devices[card], "")
        ip_country = np.where(ecom, home, "")
        return _columns(
            t, card, self.merchant(mcc, country), mcc, amount, country, channel, entry, pos | atm,
            device, ip_country, "",
        )  # fmt: skip

    def fraud(self, n: int, period: int) -> list[dict[str, np.ndarray]]:
        """`n` fraud rows split over the four patterns (card testing comes in bursts)."""
        if n == 0:
            return []
        share = np.array([0.25, 0.30, 0.20, 0.25])
        counts = np.floor(share * n).astype(int)
        counts[3] += n - counts.sum()
        return [
            g(c, period)
            for g, c in zip(
                [self.takeover, self.card_testing, self.cash_out, self.stealth], counts, strict=True
            )
            if c
        ]

    def takeover(self, n: int, period: int) -> dict[str, np.ndarray]:
        """A victim card's account taken over: a new device, a foreign IP, big-ticket ecom, a
        few in a row within the hour, half of the victims buying at merchants of a new
        country (never the IP's)."""
        rng = self.rng
        victims = rng.choice(self.n_cards, min(self.n_cards, max(1, n // 3)), replace=False)
        k = rng.integers(0, len(victims), n)
        card = victims[k]
        t = _times(rng, len(victims), max(1, period - 3600))[k] + rng.integers(0, 3600, n)
        mcc = np.array(ATO_MCCS)[rng.integers(0, len(ATO_MCCS), n)]
        ip_at = rng.integers(0, len(RISKY), len(victims))
        abroad_at = (ip_at + rng.integers(1, len(RISKY), len(victims))) % len(RISKY)
        abroad = rng.random(len(victims)) < 0.5
        ip = np.array(RISKY)[ip_at][k]
        country = np.where(abroad[k], np.array(RISKY)[abroad_at][k], self.home[card])
        device = np.array([f"dev_{x:012x}" for x in rng.integers(0, 2**47, len(victims))])[k]
        amount = rng.lognormal(6.3, 0.5, n)
        return _columns(
            t, card, self.merchant(mcc, country), mcc, amount, country, "ecom", "ecom", False,
            device, ip, "account_takeover",
        )  # fmt: skip

    def card_testing(self, n: int, period: int) -> dict[str, np.ndarray]:
        """Tiny ecom payments in bursts at a testing merchant, one fraudster device per burst:
        many stolen cards once each, and (two rows in five) one card probed 3-6 times within
        three minutes."""
        rng = self.rng
        probed = int(n * 0.4) if n >= 10 else 0
        sweep = n - probed
        bursts = max(1, sweep // 12)
        burst = np.sort(rng.integers(0, bursts, sweep))
        start = rng.integers(0, period - 900, bursts)
        t = start[burst] + rng.integers(0, 600, sweep)
        card = rng.choice(self.n_cards, sweep)
        if probed:
            sizes = rng.integers(3, 7, probed)  # more than enough probes of 3-6 rows
            sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), probed)) + 1]
            sizes[-1] -= int(sizes.sum()) - probed
            probe = np.repeat(np.arange(len(sizes)), sizes)
            at = rng.integers(0, bursts, len(sizes))  # a sweep's merchant and device
            first = start[at] + rng.integers(0, 600, len(sizes))
            t = np.concatenate([t, first[probe] + rng.integers(0, 180, probed)])
            card = np.concatenate([card, rng.choice(self.n_cards, len(sizes))[probe]])
            burst = np.concatenate([burst, at[probe]])
        merchant_country = np.array(RISKY)[rng.integers(0, len(RISKY), bursts)][burst]
        merchant = np.array(
            [
                f"m_{c}_{TESTING_MCC}_t{b}"
                for c, b in zip(merchant_country, burst.tolist(), strict=True)
            ],
            dtype=object,
        )
        device = np.array([f"dev_{x:012x}" for x in rng.integers(0, 2**47, bursts)])[burst]
        amount = rng.uniform(0.5, 2.0, n)
        return _columns(
            t, card, merchant, TESTING_MCC, amount, merchant_country, "ecom", "ecom", False,
            device, merchant_country, "card_testing",
        )  # fmt: skip

    def cash_out(self, n: int, period: int) -> dict[str, np.ndarray]:
        """Cloned magstripe at foreign ATMs: round, high amounts, a spree of a few
        withdrawals per card within three hours, in one country."""
        rng = self.rng
        cloned = rng.choice(self.n_cards, min(self.n_cards, max(1, n // 3)), replace=False)
        k = rng.integers(0, len(cloned), n)
        card = cloned[k]
        t = _times(rng, len(cloned), max(1, period - 10800))[k] + rng.integers(0, 10800, n)
        country = np.array(RISKY)[rng.integers(0, len(RISKY), len(cloned))][k]
        amount = 20.0 * rng.integers(10, 50, n)
        return _columns(
            t, card, self.merchant(np.full(n, ATM_MCC), country), ATM_MCC, amount, country,
            "atm", "swipe", True, "", "", "cash_out_abroad",
        )  # fmt: skip

    def stealth(self, n: int, period: int) -> dict[str, np.ndarray]:
        """Fraud in the card's own habits (usual MCC, home country, a little more spend)."""
        rng = self.rng
        card = rng.choice(self.n_cards, n, p=self.activity)
        t = _times(rng, n, period)
        mcc = self.usual[card, rng.integers(0, 4, n)]
        country = self.home[card]
        amount = rng.lognormal(
            self.spend_mu[card] + _lookup(mcc, MCC_SPEND) + 0.4, self.spend_sigma[card]
        )
        ecom = rng.random(n) < 0.5
        device = np.where(ecom, self.devices[card], "")
        return _columns(
            t, card, self.merchant(mcc, country), mcc, amount, country,
            np.where(ecom, "ecom", "pos"), np.where(ecom, "ecom", "contactless"), ~ecom,
            device, np.where(ecom, country, ""), "stealth",
        )  # fmt: skip


def _columns(
    t: np.ndarray, card: np.ndarray, merchant: Any, mcc: Any, amount: np.ndarray, country: Any,
    channel: Any, entry: Any, present: Any, device: Any, ip: Any, pattern: str,
) -> dict[str, np.ndarray]:  # fmt: skip
    n = len(t)

    def full(v: Any, dtype: Any = object) -> np.ndarray:
        return np.asarray(v, dtype=dtype) if np.ndim(v) else np.full(n, v, dtype=dtype)

    country = full(country)
    amount = np.round(np.clip(amount, 0.5, 20000.0), 2)
    merchant_country = np.array([m.split("_")[1] for m in full(merchant)], dtype=object)
    return {
        "t": np.asarray(t, np.int64),
        "card": np.asarray(card, np.int64),
        "merchant": full(merchant),
        "mcc": full(mcc),
        "amount": amount,
        "country": country,
        "merchant_country": merchant_country,
        "currency": np.array([CURRENCY.get(c, "USD") for c in country], dtype=object),
        "channel": full(channel),
        "entry_mode": full(entry),
        "card_present": full(present, bool),
        "device": full(device),
        "ip_country": full(ip),
        "pattern": np.full(n, pattern, dtype=object),
    }


def _times(rng: np.random.Generator, n: int, period: int) -> np.ndarray:
    """Seconds into the period with a daily cycle (quiet nights, busy evenings)."""
    days = max(1, period // 86400)
    day = rng.integers(0, days, n)
    hour = _choice(rng, n, HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    t = day * 86400 + hour * 3600 + rng.integers(0, 3600, n)
    return np.minimum(t, period - 1)


def _choice(rng: np.random.Generator, n: int, p: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.searchsorted(np.cumsum(p), rng.random(n) * float(np.sum(p)), side="right").clip(
        0, len(p) - 1
    )


def _lookup(keys: np.ndarray, table: dict[str, float]) -> np.ndarray:
    return np.array([table.get(k, 0.0) for k in keys], dtype=float) if len(keys) else np.zeros(0)


def _uuids(rng: np.random.Generator, n: int) -> pa.Array:
    """n random version-4 UUID strings, built as one Arrow buffer (fast for millions)."""
    raw = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexes = np.empty((n, 32), np.uint8)
    hexes[:, 0::2] = _HEX[raw >> 4]
    hexes[:, 1::2] = _HEX[raw & 0x0F]
    out = np.full((n, 36), ord("-"), np.uint8)
    for dst, src in ((0, 0), (9, 8), (14, 12), (19, 16), (24, 20)):
        width = {0: 8, 24: 12}.get(dst, 4)
        out[:, dst : dst + width] = hexes[:, src : src + width]
    offsets = (np.arange(n + 1, dtype=np.int32) * 36).tobytes()
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(out.tobytes())]
    )


# ----------------------------------------------------------------------------- benchmark data


# Features the fraud class shifts (in standard deviations) - a handful, with overlap.
_SHIFTS = {14: -2.2, 12: -1.8, 10: -1.6, 17: -1.5, 4: 1.4, 11: 1.2, 3: -1.0, 16: -0.9}


def generate_creditcard_benchmark(n: int, seed: int, fraud_rate: float = 0.0017) -> pa.Table:
    """Rows shaped like the public credit-card benchmark: Time, V1..V28, Amount, Class.

    V features are independent normals with falling variance (as PCA components have); fraud
    shifts a few of them by 1-2 sd with heavy overlap and has noisier variance, so a logistic
    regression finds signal without separating the classes.
    """
    rng = np.random.default_rng(seed)
    fraud = rng.random(n) < fraud_rate
    time = np.sort(_times(rng, n, 2 * 86400)).astype(float)  # whole seconds, as published
    sd = np.linspace(1.9, 0.35, 28)
    v = rng.normal(0.0, 1.0, (n, 28))
    k = int(fraud.sum())
    if k:
        scale = rng.uniform(0.3, 1.3, k)[:, None]  # some frauds look almost normal
        shift = np.zeros(28)
        for j, s in _SHIFTS.items():
            shift[j - 1] = s
        v[fraud] = v[fraud] * 1.4 + shift * scale
    v *= sd
    amount = np.where(fraud, rng.lognormal(3.6, 1.6, n), rng.lognormal(3.0, 1.3, n))
    amount = np.round(np.where(rng.random(n) < 0.006, 0.0, amount), 2)
    schema = load_contract("creditcard_benchmark").arrow_schema()
    arrays = [pa.array(time)] + [pa.array(v[:, j]) for j in range(28)]
    arrays += [pa.array(amount), pa.array(fraud.astype(np.int64))]
    return pa.Table.from_arrays(arrays, schema=schema)


# ----------------------------------------------------------------------------- files


def to_text(table: pa.Table) -> pa.Table:
    """Every column as the text a CSV carries: ISO-8601 `Z` times, true/false, plain numbers."""
    out = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            # cast is ~10x faster than strftime; it writes "YYYY-MM-DD hh:mm:ss.ffffffZ"
            text = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.string())
            text = pc.replace_substring(text, " ", "T", max_replacements=1)
            out.append(pc.replace_substring(text, ".000000Z", "Z"))
        elif pa.types.is_boolean(column.type):
            text = pc.if_else(column, "true", "false")
            out.append(text)
        else:
            out.append(column.cast(pa.string()))
    return pa.Table.from_arrays(out, names=table.column_names)


def write_table(
    table: pa.Table, path: str | Path, fmt: str | None = None, *, compress: bool = False
) -> Path:
    """Write `table` as csv, jsonl or parquet (from the suffix unless `fmt`), optionally gzip.

    CSV is written as text (so `0742` stays quoted text); JSONL with JSON numbers and booleans,
    as producers send them; Parquet typed (and compressed inside, so `compress` is ignored).
    """
    path = Path(path)
    if fmt is None:
        fmt = path.suffixes[0].lstrip(".") if path.suffixes else ""
    if fmt not in ("csv", "jsonl", "parquet"):
        raise ValueError(f"unknown format {fmt!r}: csv, jsonl or parquet")
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
        return path
    buffer = io.BytesIO()
    if fmt == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(to_text(table), buffer)
    else:
        text = to_text(table)
        timestamps = {f.name for f in table.schema if pa.types.is_timestamp(f.type)}
        for row, typed in zip(text.to_pylist(), table.to_pylist(), strict=True):
            record = {k: (row[k] if k in timestamps else _plain(v)) for k, v in typed.items()}
            buffer.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")
    data = buffer.getvalue()
    path.write_bytes(gzip_module.compress(data, mtime=0) if compress else data)
    return path


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


# ----------------------------------------------------------------------------- bad rows


BAD_KINDS: dict[str, tuple[str, str, str]] = {
    # kind: (column, bad text, the rule it must fail)
    "malformed_timestamp": ("event_time", "27/11/2026 10:15", "type:event_time"),
    "wrong_type_amount": ("amount", "12,50 EUR", "type:amount"),
    "wrong_type_bool": ("card_present", "yes", "type:card_present"),
    "missing_field": ("card_id", "", "not_null:card_id"),
    "negative_amount": ("amount", "-5.00", "range:amount"),
    "absurd_amount": ("amount", "9999999.99", "range:amount"),
    "unknown_currency": ("currency", "ABC", "allowed:currency"),
    "bad_channel": ("channel", "web", "allowed:channel"),
    "malformed_mcc": ("mcc", "742", "pattern:mcc"),
    "too_long": ("device_id", "d" * 200, "max_length:device_id"),
    "future_timestamp": ("event_time", "2099-01-01T00:00:00Z", "event_time_in_future"),
    "ancient_timestamp": ("event_time", "1987-06-01T00:00:00Z", "event_time_too_old"),
    "padded_identifier": ("customer_id", " cus_padded", "identifier:customer_id"),
    "zero_width_identifier": ("merchant_id", "m_\u200b1", "identifier:merchant_id"),
    "control_char_identifier": ("card_id", "card_\x07bell", "identifier:card_id"),
    "label_before_event": ("label_time", "2000-01-01T00:00:00Z", "label_time_before_event"),
    "label_in_future": ("label_time", "2099-01-01T00:00:00Z", "label_time_in_future"),
    # a label without its time: label_time is emptied in the same rows
    "label_without_time": ("is_fraud", "true", "label_without_time"),
    "duplicate_id": ("transaction_id", "", "duplicate_key"),
}


def inject_bad_rows(
    table: pa.Table,
    kinds: Sequence[str] | None = None,
    *,
    per_kind: int = 1,
    seed: int = 0,
) -> tuple[pa.Table, dict[str, int]]:
    """Spoil `per_kind` distinct rows per kind of a transactions table; returns the text table
    and the exact `rule_counts` validation must report (each spoiled row fails one rule)."""
    kinds = list(BAD_KINDS) if kinds is None else list(kinds)
    unknown = set(kinds) - set(BAD_KINDS)
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}; known: {sorted(BAD_KINDS)}")
    text = to_text(table)
    n = text.num_rows
    needed = per_kind * (len(kinds) + ("duplicate_id" in kinds))
    if needed > n:
        raise ValueError(f"{needed} rows to spoil, table has {n}")
    rng = np.random.default_rng(seed)
    picked = rng.choice(n, needed, replace=False)
    columns = {name: text.column(name) for name in text.column_names}
    expected: dict[str, int] = {}
    for i, kind in enumerate(kinds):
        rows = np.sort(picked[i * per_kind : (i + 1) * per_kind])
        column, bad, rule = BAD_KINDS[kind]
        if kind == "duplicate_id":
            # copy the id of an untouched row that comes earlier (swap so the copy is later)
            sources = np.sort(picked[len(kinds) * per_kind :][:per_kind])
            first, later = np.minimum(sources, rows), np.maximum(sources, rows)
            values = columns[column].take(pa.array(first))
            if isinstance(values, pa.ChunkedArray):
                values = values.combine_chunks()
            rows = later
        else:
            values = pa.array([bad] * len(rows), pa.string())
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        order = np.argsort(rows)
        current = columns[column]
        if isinstance(current, pa.ChunkedArray):
            current = current.combine_chunks()
        columns[column] = pc.replace_with_mask(
            current, pa.array(mask), values.take(pa.array(order))
        )
        # columns emptied alongside, so that each row fails its one rule: a label loses its
        # time; an event moved to the future loses its label (known before it: another rule)
        emptied = {
            "label_without_time": ["label_time"],
            "future_timestamp": ["is_fraud", "label_time"],
        }
        for other in emptied.get(kind, []):
            current = columns[other]
            if isinstance(current, pa.ChunkedArray):
                current = current.combine_chunks()
            columns[other] = pc.replace_with_mask(
                current, pa.array(mask), pa.array([""] * len(rows), pa.string())
            )
        expected[rule] = expected.get(rule, 0) + len(rows)
    return pa.table(columns), dict(sorted(expected.items()))


def fraud_patterns(patterns: pa.Array) -> dict[str, int]:
    """How many rows of each fraud pattern (from `generate_transactions_with_patterns`)."""
    counts = pc.value_counts(patterns).to_pylist()
    return {c["values"]: c["counts"] for c in counts if c["values"]}
