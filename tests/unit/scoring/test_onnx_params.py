"""The ONNX reader (fraudops_shared.scoring.onnx_params) against the onnx package: real exported
models read alike, repeated numbers packed or not, runs longer than its decoding window, unknown
fields skipped, tensors; and every kind of malformed bytes raises ModelFormatError."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from fraudops_shared.scoring import onnx_params
from fraudops_shared.scoring.onnx_params import FLOATS, INTS, STRING, ModelFormatError
from tests.unit.scoring.models import graph_model, trained

# --- a protobuf writer, for bytes the onnx package would not write ------------------------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64: two's complement, ten bytes
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def key(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def length_delimited(number: int, payload: bytes) -> bytes:
    return key(number, 2) + varint(len(payload)) + payload


def model_with_node(node: bytes, extra: bytes = b"") -> bytes:
    """A ModelProto whose graph holds one node (already encoded) and the input `features`."""
    graph = length_delimited(1, node) + length_delimited(11, length_delimited(1, b"features"))
    return key(1, 0) + varint(8) + length_delimited(7, graph) + extra


def node_with(*attributes: bytes, extra: bytes = b"") -> bytes:
    body = length_delimited(1, b"features") + length_delimited(2, b"out")
    body += length_delimited(4, b"Custom") + length_delimited(7, b"test.domain") + extra
    return body + b"".join(length_delimited(5, a) for a in attributes)


def ints_attribute(name: bytes, values: list[int], packed: bool) -> bytes:
    if packed:
        body = length_delimited(8, b"".join(varint(v) for v in values))
    else:
        body = b"".join(key(8, 0) + varint(v) for v in values)
    return length_delimited(1, name) + body + key(20, 0) + varint(INTS)


def floats_attribute(name: bytes, values: list[float], packed: bool) -> bytes:
    raw = [struct.pack("<f", v) for v in values]
    body = length_delimited(7, b"".join(raw)) if packed else b"".join(key(7, 5) + r for r in raw)
    return length_delimited(1, name) + body + key(20, 0) + varint(FLOATS)


def only_node(data: bytes) -> onnx_params.Node:
    (node,) = onnx_params.parse(data).graph.nodes
    return node


# --- real models ---------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    return list(value) if isinstance(value, tuple) else value


def summary(node: onnx_params.Node) -> tuple[Any, ...]:
    attributes = {name: (a.type, plain(a.value)) for name, a in node.attributes.items()}
    return node.op_type, node.domain, node.name, node.inputs, node.outputs, attributes


@pytest.mark.parametrize("kind", ["hist_gradient_boosting", "logistic_regression"])
def test_an_exported_model_reads_as_the_onnx_package_reads_it(kind: str) -> None:
    # Given a model exported as training exports it
    _, data = trained(kind)
    reference = onnx.load_from_string(data)
    # When it is read
    model = onnx_params.parse(data)
    # Then its metadata, opsets, inputs, outputs, nodes and every attribute are the same
    assert model.ir_version == reference.ir_version and model.producer == "fraudops"
    assert model.metadata == {p.key: p.value for p in reference.metadata_props}
    assert model.opsets == {o.domain: o.version for o in reference.opset_import}
    assert [v.name for v in model.graph.inputs] == ["features"]
    assert model.graph.inputs[0].shape == (None, 6) and model.graph.inputs[0].elem_type == 1
    assert [v.name for v in model.graph.outputs] == [o.name for o in reference.graph.output]
    assert len(model.graph.nodes) == len(reference.graph.node)
    for node, ref in zip(model.graph.nodes, reference.graph.node, strict=True):
        assert (node.op_type, node.domain, node.name) == (ref.op_type, ref.domain, ref.name)
        assert (node.inputs, node.outputs) == (tuple(ref.input), tuple(ref.output))
        assert set(node.attributes) == {a.name for a in ref.attribute}
        for attr in ref.attribute:
            mine = node.attributes[attr.name]
            assert mine.type == attr.type
            assert plain(mine.value) == helper.get_attribute_value(attr), attr.name


# --- repeated numbers ----------------------------------------------------------------------------

AWKWARD_INTS = [0, 1, 127, 128, 300, 2**31, 2**63 - 1, -1, -(2**63), -300]


@pytest.mark.parametrize("packed", [False, True])
def test_ints_read_the_same_packed_or_not_with_negative_and_ten_byte_values(packed: bool) -> None:
    # Given ints of every varint length, negative ones (ten bytes) included
    data = model_with_node(node_with(ints_attribute(b"ids", AWKWARD_INTS, packed)))
    # Then they read back exactly, whichever way they were written
    assert only_node(data).attribute("ids", INTS).tolist() == AWKWARD_INTS


@pytest.mark.parametrize("count", [1, 255, 256, 257, 5000])
def test_long_runs_of_unpacked_numbers_read_whole(count: int) -> None:
    # Given runs shorter and longer than the reader's first window, of mixed varint lengths,
    # split by another field and resumed, as one attribute
    rng = np.random.default_rng(count)
    ints = [int(v) for v in rng.integers(-(2**40), 2**40, count)]
    floats = [float(np.float32(v)) for v in rng.normal(size=count)]
    split = count // 2
    ints_body = b"".join(key(8, 0) + varint(v) for v in ints[:split])
    ints_body += length_delimited(13, b"a doc string in the middle")
    ints_body += b"".join(key(8, 0) + varint(v) for v in ints[split:])
    attr = length_delimited(1, b"ids") + ints_body + key(20, 0) + varint(INTS)
    node = node_with(attr, floats_attribute(b"values", floats, packed=False))
    # When it is read
    read = only_node(model_with_node(node))
    # Then every value is there, in order
    assert read.attribute("ids", INTS).tolist() == ints
    assert read.attribute("values", FLOATS).tolist() == floats


def test_unknown_fields_of_every_wire_type_are_skipped() -> None:
    # Given a node and a model carrying fields this reader does not know, of each wire type
    unknown = (
        key(99, 0) + varint(12345)
        + key(98, 1) + b"\x00" * 8
        + length_delimited(97, b"whatever")
        + key(96, 5) + b"\x00" * 4
    )  # fmt: skip
    attr = ints_attribute(b"ids", [1, 2, 3], packed=False)
    plain_node = only_node(model_with_node(node_with(attr)))
    # When they are read
    noisy = only_node(model_with_node(node_with(attr, extra=unknown), extra=unknown))
    # Then they are the same as without the unknown fields
    assert summary(noisy) == summary(plain_node)
    assert plain_node.op_type == "Custom" and plain_node.domain == "test.domain"


@pytest.mark.parametrize(
    ("data_type", "values"),
    [
        (TensorProto.FLOAT, np.array([[1.5, -2.0], [0.25, 3.0]], np.float32)),
        (TensorProto.DOUBLE, np.array([1e-300, -2.5, 7.0], np.float64)),
        (TensorProto.INT64, np.array([[-(2**62), 5]], np.int64)),
        (TensorProto.INT32, np.array([-7, 2**31 - 1, 0], np.int32)),
    ],
)
@pytest.mark.parametrize("raw", [False, True])
def test_tensors_read_from_typed_fields_or_raw_data(
    data_type: int, values: np.ndarray, raw: bool
) -> None:
    # Given a tensor attribute and an initializer holding the same values
    contents = values.tobytes() if raw else values.ravel().tolist()
    tensor = helper.make_tensor("t", data_type, values.shape, contents, raw=raw)
    node = helper.make_node("Custom", ["features"], ["probabilities"], domain="x", weights=tensor)
    model = onnx.load_from_string(graph_model(node, 2))
    model.graph.initializer.append(tensor)
    # When the model is read
    read = onnx_params.parse(model.SerializeToString())
    # Then both are the values, with their shape and type
    for got in (read.graph.nodes[0].attributes["weights"].value, read.graph.initializers["t"]):
        assert got.name == "t"
        np.testing.assert_array_equal(got.values, numpy_helper.to_array(tensor))
        assert got.values.dtype == values.dtype and got.values.shape == values.shape


# --- attribute access ----------------------------------------------------------------------------


def test_an_attribute_is_given_only_as_its_own_type() -> None:
    # Given a node with a string, an int list, and a graph attribute (not decoded)
    branch = helper.make_graph([], "empty", [], [])
    node = helper.make_node(
        "Custom", ["features"], ["out"], domain="x", mode="LEQ", ids=[1, 2], body=branch
    )
    read = only_node(graph_model(node, 2))
    # Then each reads as its type, a default stands in for a missing one, and anything else
    # raises ModelFormatError
    assert read.attribute("mode", STRING) == b"LEQ"
    assert read.attribute("absent", INTS, "fallback") == "fallback"
    with pytest.raises(ModelFormatError, match="'ids' is INTS, expected FLOATS"):
        read.attribute("ids", FLOATS)
    with pytest.raises(ModelFormatError, match="'body' is GRAPH, expected INTS"):
        read.attribute("body", INTS)
    with pytest.raises(ModelFormatError, match="has no 'absent'"):
        read.attribute("absent", INTS)


# --- malformed bytes -----------------------------------------------------------------------------


def attribute_model(body: bytes) -> bytes:
    return model_with_node(node_with(body))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty model"),
        (b"\x08", "truncated varint"),
        (b"\x08" + b"\xff" * 10 + b"\x01", "varint longer than 10 bytes"),
        (length_delimited(7, b"")[:-1] + b"\x05", "5 bytes announced, 0 left"),
        (key(7, 3), "unsupported wire type 3"),
        (key(7, 4), "unsupported wire type 4"),
        (b"\x00", "field number 0"),
        (key(1, 0) + varint(8), "no graph"),
        (key(7, 0) + varint(1), "graph has wire type 0"),
        (model_with_node(length_delimited(4, b"\xff\xfe")), "not UTF-8"),
        (model_with_node(length_delimited(1, b"x")), "has no op_type"),
        (attribute_model(length_delimited(7, b"\x00" * 6)), "6 bytes is not a whole number"),
        (attribute_model(key(8, 0) + b"\x80"), "truncated"),
        (attribute_model(length_delimited(8, b"\x80")), "truncated packed varint"),
        (attribute_model(length_delimited(8, b"\xff" * 11 + b"\x01")), "longer than 10"),
        (attribute_model(key(2, 0) + varint(1)), "f has wire type 0"),
        (attribute_model(key(20, 0) + varint(42)), "type 42, which ONNX does not define"),
        (attribute_model(key(20, 0) + varint(4)), "TENSOR attribute without a tensor"),
    ],
)
def test_malformed_bytes_raise_model_format_error(data: bytes, match: str) -> None:
    with pytest.raises(ModelFormatError, match=match):
        onnx_params.parse(data)


def tensor_model(*fields: bytes) -> bytes:
    tensor = b"".join(fields)
    attr = length_delimited(1, b"t") + length_delimited(5, tensor) + key(20, 0) + varint(4)
    return attribute_model(attr)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (tensor_model(key(2, 0) + varint(8)), "data type 8, not decoded here"),
        (tensor_model(key(2, 0) + varint(1), key(14, 0) + varint(1)), "outside the model"),
        (tensor_model(key(2, 0) + varint(1), length_delimited(3, b"")), "segmented"),
        (tensor_model(key(2, 0) + varint(1), key(1, 0) + varint(3)), "0 values for dims"),
        (
            tensor_model(key(2, 0) + varint(1), length_delimited(9, b"\x00" * 5)),
            "raw_data is not a whole number",
        ),
        (
            tensor_model(key(2, 0) + varint(1), (key(1, 0) + varint(2**32)) * 2),
            "0 values for dims",  # 2**64 values: no int64 overflow to 0
        ),
    ],
)
def test_tensors_this_reader_cannot_take_raise_model_format_error(data: bytes, match: str) -> None:
    with pytest.raises(ModelFormatError, match=match):
        onnx_params.parse(data)


def test_anything_but_bytes_is_refused() -> None:
    with pytest.raises(ModelFormatError, match="expected the model's bytes, got str"):
        onnx_params.parse("model.onnx")  # type: ignore[arg-type]
    assert onnx_params.parse(bytearray(trained("logistic_regression")[1])).producer == "fraudops"
