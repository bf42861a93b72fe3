"""Data contracts: versioned YAML files in `contracts/specs/`, one per data set.

Adding a contract is adding a file; nothing here names a contract. Only PyYAML is needed to load
one; pyarrow is imported when a schema is asked for, so a Lambda that only reads the rules does
not pay for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    import pyarrow as pa

TYPES = ("string", "int64", "float64", "timestamp", "bool")
TRANSFORMS = ("date", "day_offset")
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:[-+][0-9A-Za-z.-]+)?$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PACKAGE = "fraudops_shared.contracts"
_SPECS = "specs"


class ContractError(ValueError):
    """A contract file that is not a valid contract (a packaging bug, not a data problem)."""


class UnknownContractError(KeyError):
    """No contract file of that name; the message lists the known ones."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = known

    def __str__(self) -> str:
        return f"unknown contract {self.name!r}; known contracts: {', '.join(self.known)}"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    required: bool = True  # must be present in a file; defaults to `not nullable`
    min: float | None = None
    max: float | None = None
    allowed: tuple[Any, ...] | None = None
    pattern: str | None = None
    max_length: int | None = None
    # An identifier (ids, tokens): no control or zero-width characters, no whitespace at the ends
    identifier: bool = False
    description: str = ""

    def arrow_type(self) -> pa.DataType:
        import pyarrow as pa

        return {
            "string": pa.string(),
            "int64": pa.int64(),
            "float64": pa.float64(),
            "timestamp": pa.timestamp("us", tz="UTC"),
            "bool": pa.bool_(),
        }[self.type]


@dataclass(frozen=True)
class Partition:
    """A curated-zone partition column derived from `source` (e.g. event_date from event_time)."""

    name: str
    source: str
    transform: str


@dataclass(frozen=True)
class Contract:
    name: str
    version: str
    description: str
    columns: tuple[Column, ...]
    unique_key: str | None
    event_time: str
    label: str | None
    label_time: str | None
    labels_arrive_later: bool
    pii: tuple[str, ...]
    partition_by: tuple[Partition, ...]
    max_future_seconds: float | None
    max_age_days: float | None
    owner: str = ""
    # The model features section as written (parsed and checked by fraudops_shared.features,
    # which training and scoring share); a contract without one cannot be trained on.
    features: Any = field(default=None, compare=False)
    _by_name: dict[str, Column] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def partition_columns(self) -> list[str]:
        return [p.name for p in self.partition_by]

    def column(self, name: str) -> Column:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"contract {self.name!r} has no column {name!r}") from None

    def arrow_schema(self) -> pa.Schema:
        """Typed schema of a curated row (without the derived partition columns)."""
        import pyarrow as pa

        fields = [pa.field(c.name, c.arrow_type(), nullable=c.nullable) for c in self.columns]
        return pa.schema(fields, metadata=self._metadata())

    def curated_schema(self) -> pa.Schema:
        """`arrow_schema()` plus the partition columns: the schema of `ValidationReport.valid`."""
        import pyarrow as pa

        types = {"date": pa.date32(), "day_offset": pa.int64()}
        extra = [pa.field(p.name, types[p.transform], nullable=False) for p in self.partition_by]
        return pa.schema(list(self.arrow_schema()) + extra, metadata=self._metadata())

    def raw_schema(self) -> pa.Schema:
        """Every column as text, for CSV/JSON readers: `0742` stays `0742`, bad values survive."""
        import pyarrow as pa

        return pa.schema([pa.field(c.name, pa.string()) for c in self.columns])

    def _metadata(self) -> dict[str, str]:
        return {"fraudops.contract": self.name, "fraudops.contract_version": self.version}


def available_contracts() -> list[str]:
    """Names of the contract files shipped with this package, sorted."""
    folder = resources.files(_PACKAGE) / _SPECS
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


@cache
def load_contract(name: str) -> Contract:
    """`contracts/specs/<name>.yaml`, parsed and checked (cached: contracts are immutable)."""
    known = available_contracts()
    if name not in known:
        raise UnknownContractError(name, known)
    text = (resources.files(_PACKAGE) / _SPECS / f"{name}.yaml").read_text(encoding="utf-8")
    contract = parse_contract(yaml.safe_load(text))
    if contract.name != name:
        raise ContractError(f"{name}.yaml declares name {contract.name!r}")
    return contract


def parse_contract(doc: Any) -> Contract:
    """Build a Contract from a parsed YAML document, refusing anything ambiguous."""
    if not isinstance(doc, dict):
        raise ContractError("a contract is a mapping")
    name = _req(doc, "name", str)
    if not _NAME.match(name):
        raise ContractError(f"contract name {name!r} is not snake_case")
    version = str(_req(doc, "version", str))
    if not _SEMVER.match(version):
        raise ContractError(f"{name}: version {version!r} is not semver (MAJOR.MINOR.PATCH)")
    columns = tuple(_column(name, c) for c in _req(doc, "columns", list))
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise ContractError(f"{name}: duplicate column names")
    by_name = {c.name: c for c in columns}

    def ref(value: Any, what: str, types: tuple[str, ...] | None = None) -> Any:
        if value is None:
            return None
        if value not in by_name:
            raise ContractError(f"{name}: {what} {value!r} is not a column")
        if types and by_name[value].type not in types:
            raise ContractError(f"{name}: {what} {value!r} must be of type {'/'.join(types)}")
        return value

    label = doc.get("label") or {}
    freshness = doc.get("freshness") or {}
    event_time = ref(_req(doc, "event_time", str), "event_time", ("timestamp", "float64"))
    if by_name[event_time].type != "timestamp" and any(freshness.values()):
        raise ContractError(f"{name}: freshness rules need a timestamp event_time")
    partitions = tuple(
        Partition(
            name=_req(p, "name", str),
            source=ref(_req(p, "source", str), "partition source"),
            transform=_req(p, "transform", str),
        )
        for p in doc.get("partition_by") or []
    )
    for p in partitions:
        if p.transform not in TRANSFORMS:
            raise ContractError(f"{name}: partition transform {p.transform!r} not in {TRANSFORMS}")
        if p.name in by_name:
            raise ContractError(f"{name}: partition {p.name!r} clashes with a column")
    return Contract(
        name=name,
        version=version,
        description=str(doc.get("description", "")).strip(),
        owner=str(doc.get("owner", "")),
        columns=columns,
        unique_key=ref(doc.get("unique_key"), "unique_key", ("string", "int64")),
        event_time=event_time,
        label=ref(label.get("column"), "label"),
        label_time=ref(label.get("time_column"), "label time", ("timestamp",)),
        labels_arrive_later=bool(label.get("arrives_later", False)),
        pii=tuple(ref(p, "pii column") for p in doc.get("pii") or []),
        partition_by=partitions,
        max_future_seconds=_num(freshness.get("max_future_seconds")),
        max_age_days=_num(freshness.get("max_age_days")),
        features=doc.get("features"),
    )


def _column(contract: str, doc: Any) -> Column:
    if not isinstance(doc, dict):
        raise ContractError(f"{contract}: a column is a mapping")
    name = _req(doc, "name", str)
    ctype = _req(doc, "type", str)
    if ctype not in TYPES:
        raise ContractError(f"{contract}.{name}: type {ctype!r} not in {TYPES}")
    unknown = set(doc) - {f for f in Column.__dataclass_fields__}
    if unknown:
        raise ContractError(f"{contract}.{name}: unknown keys {sorted(unknown)}")
    nullable = bool(doc.get("nullable", True))
    allowed = doc.get("allowed")
    if allowed is not None:
        if ctype not in ("string", "int64"):
            raise ContractError(f"{contract}.{name}: allowed values need a string/int64 column")
        py = str if ctype == "string" else int
        if not all(type(v) is py for v in allowed):  # YAML 1.1 reads NO as False: quote codes
            raise ContractError(f"{contract}.{name}: allowed values must all be {py.__name__}")
    if (doc.get("pattern") is not None or doc.get("max_length") is not None) and ctype != "string":
        raise ContractError(f"{contract}.{name}: pattern/max_length need a string column")
    if (doc.get("min") is not None or doc.get("max") is not None) and ctype not in (
        "int64",
        "float64",
    ):
        raise ContractError(f"{contract}.{name}: min/max need a numeric column")
    if doc.get("pattern") is not None:
        re.compile(doc["pattern"])
    identifier = doc.get("identifier", False)
    if not isinstance(identifier, bool):
        raise ContractError(f"{contract}.{name}: identifier must be true or false")
    if identifier and ctype != "string":
        raise ContractError(f"{contract}.{name}: identifier needs a string column")
    return Column(
        name=name,
        type=ctype,
        nullable=nullable,
        required=bool(doc.get("required", not nullable)),
        min=_num(doc.get("min")),
        max=_num(doc.get("max")),
        allowed=tuple(allowed) if allowed is not None else None,
        pattern=doc.get("pattern"),
        max_length=doc.get("max_length"),
        identifier=identifier,
        description=str(doc.get("description", "")),
    )


def _req(doc: dict[str, Any], key: str, kind: type) -> Any:
    value = doc.get(key)
    if not isinstance(value, kind):
        raise ContractError(f"contract field {key!r} must be a {kind.__name__}, got {value!r}")
    return value


def _num(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ContractError(f"{value!r} is not a number")
    return float(value)
