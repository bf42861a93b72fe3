"""A minimal reader of ONNX model bytes (the protobuf wire format), in Python and numpy alone.

The scoring Lambda has onnxruntime and numpy but neither the ``onnx`` package nor a protobuf
library, and onnxruntime does not expose node attributes; the reason codes need the model's own
parameters (tree splits and leaf weights, scaler and coefficients), so they are read here.

Decoded, from onnx.proto (field numbers in brackets):

    ModelProto      ir_version [1], producer_name [2], graph [7], opset_import [8], metadata [14]
    GraphProto      node [1], initializer [5], input [11], output [12]
    NodeProto       input [1], output [2], name [3], op_type [4], attribute [5], domain [7]
    AttributeProto  name [1], f [2], i [3], s [4], t [5], floats [7], ints [8], strings [9],
                    type [20]
    TensorProto     dims [1], data_type [2], float_data [4], int32_data [5], int64_data [7],
                    name [8], raw_data [9], double_data [10] (FLOAT, INT32, INT64, DOUBLE only)
    ValueInfoProto  name [1], type [2] -> tensor_type [1] -> elem_type [1], shape [2] -> dim [1]

Repeated numbers are read packed or unpacked; other fields are skipped, as protobuf does.
Malformed bytes raise ``ModelFormatError``, and so does asking a node for an attribute of another
type or of a kind not decoded here (graphs, sparse tensors, type protos: kept as ``None``, so
that a node the explainer does not need cannot make a model unreadable).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fraudops_shared.runtime.protowire import (
    I32,
    I64,
    LEN,
    MAX_VARINT_BYTES,
    VARINT,
    Span,
    WireError,
    field,
    fields,
)

# AttributeProto.AttributeType
FLOAT, INT, STRING, TENSOR, GRAPH, FLOATS, INTS, STRINGS = 1, 2, 3, 4, 5, 6, 7, 8
_TYPE_NAMES = (  # by type number, 0 to 14
    "UNDEFINED FLOAT INT STRING TENSOR GRAPH FLOATS INTS STRINGS TENSORS GRAPHS SPARSE_TENSOR "
    "SPARSE_TENSORS TYPE_PROTO TYPE_PROTOS"
)

# TensorProto.DataType -> (numpy dtype, the typed field that holds it when raw_data is unset)
_TENSOR_TYPES = {1: ("<f4", 4), 6: ("<i4", 5), 7: ("<i8", 7), 11: ("<f8", 10)}


_REQUIRED: Any = object()


def _type_name(kind: int) -> str:
    names = _TYPE_NAMES.split()
    return names[kind] if 0 <= kind < len(names) else str(kind)


class ModelFormatError(ValueError):
    """Bytes that are not an ONNX model this reader can decode, or a parameter of another type."""


@dataclass(frozen=True)
class Tensor:
    name: str
    values: np.ndarray  # shaped as the tensor's dims


@dataclass(frozen=True)
class Attribute:
    name: str
    type: int
    # float (FLOAT), int (INT), bytes (STRING), Tensor (TENSOR), float32 array (FLOATS),
    # int64 array (INTS), tuple of bytes (STRINGS); None for the kinds not decoded
    value: Any


@dataclass(frozen=True)
class Node:
    op_type: str
    domain: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: Mapping[str, Attribute]

    def attribute(self, name: str, kind: int, default: Any = _REQUIRED) -> Any:
        """The value of attribute ``name``, which must be of type ``kind``; ``default`` if the
        node does not have it (a ``ModelFormatError`` when there is no default)."""
        attr = self.attributes.get(name)
        if attr is None:
            if default is _REQUIRED:
                raise ModelFormatError(f"{self.op_type} node {self.name!r} has no {name!r}")
            return default
        if attr.type != kind or attr.value is None:
            raise ModelFormatError(
                f"{self.op_type} node {self.name!r}: {name!r} is "
                f"{_type_name(attr.type)}, expected {_type_name(kind)}"
            )
        return attr.value


@dataclass(frozen=True)
class ValueInfo:
    name: str
    elem_type: int | None  # TensorProto.DataType, None when not a tensor
    shape: tuple[int | None, ...] | None  # None per symbolic or unknown dim; None if unranked


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    inputs: tuple[ValueInfo, ...]
    outputs: tuple[ValueInfo, ...]
    initializers: Mapping[str, Tensor]


@dataclass(frozen=True)
class Model:
    ir_version: int
    producer: str
    opsets: Mapping[str, int]
    metadata: Mapping[str, str]
    graph: Graph


# --- wire format -----------------------------------------------------------------------------


def _span(wire: int, value: int | Span, expected: int, what: str) -> Span:
    if wire != expected or not isinstance(value, tuple):
        raise ModelFormatError(f"{what} has wire type {wire}, expected {expected}")
    return value


def _int(wire: int, value: int | Span, what: str) -> int:
    if wire != VARINT or not isinstance(value, int):
        raise ModelFormatError(f"{what} has wire type {wire}, expected a varint")
    return value - (1 << 64) if value >= 1 << 63 else value  # int64: two's complement


def _text(buf: bytes, span: Span, what: str) -> str:
    try:
        return buf[span[0] : span[1]].decode("utf-8")
    except UnicodeDecodeError as err:
        raise ModelFormatError(f"{what} is not UTF-8: {err}") from None


def _packed_varints(buf: bytes, start: int, end: int, what: str) -> np.ndarray:
    """A packed run of int64 varints, decoded with numpy (a tree ensemble has ~10^5 of them)."""
    raw = np.frombuffer(buf, np.uint8, end - start, start)
    if raw.size == 0:
        return np.empty(0, np.int64)
    last = raw < 0x80
    if last.all():
        return raw.astype(np.int64)
    if not last[-1]:
        raise ModelFormatError(f"{what}: truncated packed varint")
    ends = np.flatnonzero(last)
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    if int(lengths.max()) > MAX_VARINT_BYTES:
        raise ModelFormatError(f"{what}: varint longer than {MAX_VARINT_BYTES} bytes")
    position = np.arange(raw.size) - np.repeat(starts, lengths)
    parts = (raw & 0x7F).astype(np.uint64) << (7 * position).astype(np.uint64)
    # the 7-bit groups do not overlap, so their sum is their bitwise or (modulo 2**64)
    return np.add.reduceat(parts, starts).view(np.int64)


def _ints(buf: bytes, wire: int, value: int | Span, what: str) -> np.ndarray:
    if wire == LEN and isinstance(value, tuple):
        return _packed_varints(buf, value[0], value[1], what)
    return np.array([_int(wire, value, what)], np.int64)


def _reals(buf: bytes, wire: int, value: int | Span, dtype: str, what: str) -> np.ndarray:
    """Packed (LEN) or one unpacked (I32 / I64) float or double."""
    size = np.dtype(dtype).itemsize
    element = I32 if size == 4 else I64
    if wire not in (LEN, element) or not isinstance(value, tuple):
        raise ModelFormatError(f"{what} has wire type {wire}, expected {LEN} or {element}")
    start, end = value
    if (end - start) % size:
        raise ModelFormatError(f"{what}: {end - start} bytes is not a whole number of values")
    return np.frombuffer(buf, dtype, (end - start) // size, start)


# ONNX's .proto is proto2: its repeated numbers are written unpacked, one key per value (a
# 200-tree ensemble has ~10^5 of them), so runs of one field are decoded with numpy.
_INTS_KEY, _FLOATS_KEY = 8 << 3 | VARINT, 7 << 3 | I32  # AttributeProto ints, floats
_FIRST_WINDOW = 256


def _varint_run(buf: bytes, pos: int, end: int, what: str) -> tuple[np.ndarray, int]:
    """The unpacked ``ints`` entries from ``pos`` on, up to the first other field: their values
    and the position after them. The window grows while the run fills it, so a run costs time
    in proportion to its length whatever follows it."""
    window = _FIRST_WINDOW
    while True:
        stop = min(end, pos + window)
        raw = np.frombuffer(buf, np.uint8, stop - pos, pos)
        ends = np.flatnonzero(raw < 0x80)  # every token (a key byte or a varint) ends there
        starts = np.concatenate(([0], ends[:-1] + 1))
        pairs = len(ends) // 2
        key_at = starts[0 : 2 * pairs : 2]
        is_key = (key_at == ends[0 : 2 * pairs : 2]) & (raw[key_at] == _INTS_KEY)
        n = pairs if is_key.all() else int(np.argmin(is_key))
        if n == pairs and stop < end:
            window *= 4
            continue
        if n == 0:
            raise ModelFormatError(f"{what}: truncated ints")
        last = int(ends[2 * n - 1]) + 1
        keep = np.ones(last, bool)
        keep[key_at[:n]] = False
        values = raw[:last][keep].tobytes()
        return _packed_varints(values, 0, len(values), what), pos + last


def _float_run(buf: bytes, pos: int, end: int) -> tuple[np.ndarray, int]:
    """The unpacked ``floats`` entries (a key byte and 4 bytes each) from ``pos`` on."""
    window = _FIRST_WINDOW
    while True:
        count = (min(end, pos + 5 * window) - pos) // 5
        raw = np.frombuffer(buf, np.uint8, 5 * count, pos).reshape(count, 5)
        is_key = raw[:, 0] == _FLOATS_KEY
        n = count if is_key.all() else int(np.argmin(is_key))
        if n == count and pos + 5 * (count + 1) <= end:
            window *= 4
            continue
        return raw[:n, 1:].copy().view("<f4").ravel(), pos + 5 * n


def _joined(chunks: list[np.ndarray], dtype: str) -> np.ndarray:
    if not chunks:
        return np.empty(0, dtype)
    return np.concatenate(chunks).astype(dtype)  # a copy: never a view of the model's bytes


# --- messages --------------------------------------------------------------------------------


def _tensor(buf: bytes, start: int, end: int, what: str) -> Tensor:
    dims: list[np.ndarray] = []
    data_type, name = 0, ""
    raw: Span | None = None
    typed: dict[int, list[np.ndarray]] = {}
    for number, wire, value in fields(buf, start, end):
        if number == 1:
            dims.append(_ints(buf, wire, value, f"{what} dims"))
        elif number == 2:
            data_type = _int(wire, value, f"{what} data_type")
        elif number == 8:
            name = _text(buf, _span(wire, value, LEN, f"{what} name"), f"{what} name")
        elif number == 9:
            raw = _span(wire, value, LEN, f"{what} raw_data")
        elif number in (4, 10):
            dtype = "<f4" if number == 4 else "<f8"
            typed.setdefault(number, []).append(_reals(buf, wire, value, dtype, what))
        elif number in (5, 7):
            typed.setdefault(number, []).append(_ints(buf, wire, value, what))
        elif number == 14 and _int(wire, value, f"{what} data_location") == 1:
            raise ModelFormatError(f"{what} {name!r} keeps its data outside the model")
        elif number == 3:
            raise ModelFormatError(f"{what} {name!r} is segmented")
    if data_type not in _TENSOR_TYPES:
        raise ModelFormatError(f"{what} {name!r} has data type {data_type}, not decoded here")
    dtype, data_field = _TENSOR_TYPES[data_type]
    shape = tuple(int(d) for d in _joined(dims, "<i8"))
    if raw is not None:
        size = np.dtype(dtype).itemsize
        if (raw[1] - raw[0]) % size:
            raise ModelFormatError(f"{what} {name!r}: raw_data is not a whole number of values")
        values = np.frombuffer(buf, dtype, (raw[1] - raw[0]) // size, raw[0]).copy()
    else:
        values = _joined(typed.get(data_field, []), dtype)
    if any(d < 0 for d in shape) or values.size != math.prod(shape):
        raise ModelFormatError(f"{what} {name!r}: {values.size} values for dims {shape}")
    return Tensor(name, values.reshape(shape))


def _attribute(buf: bytes, start: int, end: int, what: str) -> Attribute:
    name, kind = "", 0
    scalars: dict[int, Any] = {}
    floats: list[np.ndarray] = []
    ints: list[np.ndarray] = []
    strings: list[bytes] = []
    pos = start
    while pos < end:
        if buf[pos] == _INTS_KEY:
            run, pos = _varint_run(buf, pos, end, what)
            ints.append(run)
            continue
        if buf[pos] == _FLOATS_KEY and pos + 5 <= end:
            run, pos = _float_run(buf, pos, end)
            floats.append(run)
            continue
        number, wire, value, pos = field(buf, pos, end)
        if number == 1:
            name = _text(buf, _span(wire, value, LEN, f"{what} name"), f"{what} name")
            what = f"{what} {name!r}"
        elif number == 20:
            kind = _int(wire, value, f"{what} type")
        elif number == 2:
            if wire != I32 or not isinstance(value, tuple):
                raise ModelFormatError(f"{what} f has wire type {wire}, expected {I32}")
            (scalars[FLOAT],) = struct.unpack_from("<f", buf, value[0])
        elif number == 3:
            scalars[INT] = _int(wire, value, what)
        elif number == 4:
            span = _span(wire, value, LEN, what)
            scalars[STRING] = buf[span[0] : span[1]]
        elif number == 5:
            span = _span(wire, value, LEN, what)
            scalars[TENSOR] = _tensor(buf, span[0], span[1], f"{what} tensor")
        elif number == 7:
            floats.append(_reals(buf, wire, value, "<f4", what))
        elif number == 8:
            ints.append(_ints(buf, wire, value, what))
        elif number == 9:
            span = _span(wire, value, LEN, what)
            strings.append(buf[span[0] : span[1]])
    decoded: Any
    if kind == FLOATS:
        decoded = _joined(floats, "<f4")
    elif kind == INTS:
        decoded = _joined(ints, "<i8")
    elif kind == STRINGS:
        decoded = tuple(strings)
    elif kind in (FLOAT, INT, STRING):
        decoded = scalars.get(kind, {FLOAT: 0.0, INT: 0, STRING: b""}[kind])  # proto3 defaults
    elif kind == TENSOR:
        if TENSOR not in scalars:
            raise ModelFormatError(f"{what} is a TENSOR attribute without a tensor")
        decoded = scalars[TENSOR]
    elif 0 < kind <= 14:
        decoded = None  # graphs, sparse tensors, type protos: not needed, not decoded
    else:
        raise ModelFormatError(f"{what} has attribute type {kind}, which ONNX does not define")
    return Attribute(name, kind, decoded)


def _node(buf: bytes, start: int, end: int, what: str) -> Node:
    texts: dict[int, str] = {}
    lists: dict[int, list[str]] = {1: [], 2: []}
    attributes: dict[str, Attribute] = {}
    for number, wire, value in fields(buf, start, end):
        if number in (1, 2, 3, 4, 7):
            text = _text(buf, _span(wire, value, LEN, f"{what} field {number}"), what)
            if number in lists:
                lists[number].append(text)
            else:
                texts[number] = text
        elif number == 5:
            span = _span(wire, value, LEN, f"{what} attribute")
            attr = _attribute(buf, span[0], span[1], f"{what} attribute")
            attributes[attr.name] = attr
    if not texts.get(4):
        raise ModelFormatError(f"{what} has no op_type")
    inputs, outputs = tuple(lists[1]), tuple(lists[2])
    return Node(texts[4], texts.get(7, ""), texts.get(3, ""), inputs, outputs, attributes)


def _messages(buf: bytes, span: Span, number: int, what: str) -> list[Span]:
    """The spans of the sub-messages with field ``number`` in the message at ``span``."""
    return [_span(w, v, LEN, what) for n, w, v in fields(buf, *span) if n == number]


def _value_info(buf: bytes, start: int, end: int, what: str) -> ValueInfo:
    """The name and, for a tensor, the elem_type and shape (from type.tensor_type)."""
    names = [_text(buf, s, what) for s in _messages(buf, (start, end), 1, what)]
    name = names[-1] if names else ""  # protobuf: the last value of a scalar field wins
    elem_type: int | None = None
    shape: tuple[int | None, ...] | None = None
    for type_span in _messages(buf, (start, end), 2, what):
        for tensor in _messages(buf, type_span, 1, what):
            elem_type = 0
            for number, wire, value in fields(buf, *tensor):
                if number == 1:
                    elem_type = _int(wire, value, f"{what} elem_type")
                elif number == 2:
                    dims = _messages(buf, _span(wire, value, LEN, what), 1, what)
                    shape = tuple(_dim(buf, dim, what) for dim in dims)
    return ValueInfo(name, elem_type, shape)


def _dim(buf: bytes, span: Span, what: str) -> int | None:
    values = [_int(w, v, what) for n, w, v in fields(buf, *span) if n == 1]
    return values[-1] if values else None  # None: symbolic (dim_param) or unknown


def _graph(buf: bytes, start: int, end: int) -> Graph:
    nodes: list[Node] = []
    inputs: list[ValueInfo] = []
    outputs: list[ValueInfo] = []
    initializers: dict[str, Tensor] = {}
    for number, wire, value in fields(buf, start, end):
        if number not in (1, 5, 11, 12):
            continue
        span = _span(wire, value, LEN, f"graph field {number}")
        if number == 1:
            nodes.append(_node(buf, *span, f"node {len(nodes)}"))
        elif number == 5:
            tensor = _tensor(buf, *span, f"initializer {len(initializers)}")
            initializers[tensor.name] = tensor
        elif number == 11:
            inputs.append(_value_info(buf, *span, f"input {len(inputs)}"))
        else:
            outputs.append(_value_info(buf, *span, f"output {len(outputs)}"))
    return Graph(tuple(nodes), tuple(inputs), tuple(outputs), initializers)


def _pair(buf: bytes, span: Span, what: str) -> tuple[str, int | str]:
    """A StringStringEntryProto (key, value) or an OperatorSetIdProto (domain, version)."""
    first = ""
    second: int | str | None = None
    for number, wire, value in fields(buf, *span):
        if number == 1:
            first = _text(buf, _span(wire, value, LEN, what), what)
        elif number == 2:
            if wire == VARINT:
                second = _int(wire, value, what)
            else:
                second = _text(buf, _span(wire, value, LEN, what), what)
    return first, second if second is not None else ""


def parse(data: bytes | bytearray | memoryview) -> Model:
    """The model in ``data`` (the bytes of an .onnx file); ``ModelFormatError`` if malformed."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ModelFormatError(f"expected the model's bytes, got {type(data).__name__}")
    buf = bytes(data)
    if not buf:
        raise ModelFormatError("empty model")
    try:
        return _model(buf)
    except WireError as err:  # the protobuf reader's errors, as this module's
        raise ModelFormatError(str(err)) from None


def _model(buf: bytes) -> Model:
    ir_version, producer = 0, ""
    opsets: dict[str, int] = {}
    metadata: dict[str, str] = {}
    graph: Graph | None = None
    for number, wire, value in fields(buf, 0, len(buf)):
        if number == 1:
            ir_version = _int(wire, value, "ir_version")
        elif number == 2:
            producer = _text(buf, _span(wire, value, LEN, "producer_name"), "producer_name")
        elif number == 7:
            graph = _graph(buf, *_span(wire, value, LEN, "graph"))
        elif number == 8:
            domain, version = _pair(buf, _span(wire, value, LEN, "opset_import"), "opset")
            opsets[domain] = int(version or 0)
        elif number == 14:
            key, text = _pair(buf, _span(wire, value, LEN, "metadata_props"), "metadata")
            metadata[key] = str(text)
    if graph is None or not graph.nodes:
        raise ModelFormatError("not an ONNX model: no graph, or a graph without nodes")
    return Model(ir_version, producer, opsets, metadata, graph)
