"""KPL aggregation: the pure-Python decoder and encoder (no protobuf dependency)."""

from __future__ import annotations

import hashlib
import json

import pytest

from fraudops_shared.ingestion import kpl

# Serialized by the protobuf library itself (proto2 AggregatedRecord, one record with a tag, one
# with an explicit hash key): the decoder must read what real KPL producers write.
GOLDEN = bytes.fromhex(
    "f3899ac20a06636172642d310a06636172642d32120234321a2708001a177b227472616e73616374696f6e5f"
    "6964223a227431227d220a0a037372631203706f731a1d080110001a177b227472616e73616374696f6e5f69"
    "64223a227432227db570a8d40b7faa4090d45f9ce44c8aab"
)


def _with_digest(body: bytes) -> bytes:
    return kpl.MAGIC + body + hashlib.md5(body, usedforsecurity=False).digest()


def test_golden_aggregate_from_protobuf_decodes_with_keys_and_skips_tags() -> None:
    # Given an aggregate serialized by protobuf, When it is decoded
    records = kpl.decode(GOLDEN)
    # Then both user records come back with their own partition keys, tags ignored
    assert records == [
        kpl.UserRecord("card-1", b'{"transaction_id":"t1"}', None),
        kpl.UserRecord("card-2", b'{"transaction_id":"t2"}', "42"),
    ]
    assert kpl.deaggregate(GOLDEN, "outer-key") == [
        ("card-1", b'{"transaction_id":"t1"}'),
        ("card-2", b'{"transaction_id":"t2"}'),
    ]


def test_encoder_writes_what_protobuf_writes() -> None:
    # Given the golden aggregate's records without the tag, When re-encoded
    # Then the message bytes equal protobuf's once the 12-byte tag (and so the first record's
    # length, 0x27 -> 0x1b) is taken out
    ours = kpl.aggregate(
        [
            ("card-1", b'{"transaction_id":"t1"}'),
            ("card-2", b'{"transaction_id":"t2"}', "42"),
        ]
    )
    tag = bytes.fromhex("220a0a037372631203706f73")
    golden_body = GOLDEN[len(kpl.MAGIC) : -kpl.DIGEST_SIZE]
    expected = golden_body.replace(tag, b"").replace(
        bytes.fromhex("1a2708"), bytes.fromhex("1a1b08")
    )
    assert ours == _with_digest(expected)


def test_round_trip_keeps_order_keys_and_bytes() -> None:
    records = [
        ("pk-a", b'{"transaction_id": "1"}'),
        ("pk-b", b"\x00\x01\xff binary"),
        ("pk-a", b""),
        ("pk-\u00e9", "caf\u00e9".encode()),
    ]
    blob = kpl.aggregate(records)
    assert kpl.is_aggregated(blob)
    assert kpl.deaggregate(blob, "ignored") == records


def test_plain_records_pass_through_unchanged() -> None:
    for data in (b'{"transaction_id": "t1"}', b"", b"\xf3\x89", b"not json"):
        assert kpl.deaggregate(data, "pk") == [("pk", data)]
    assert not kpl.is_aggregated(b"\xf3\x89\x9a")


def test_corrupted_digest_is_refused_with_the_reason() -> None:
    blob = bytearray(kpl.aggregate([("pk", b"payload")]))
    blob[-1] ^= 0x01
    with pytest.raises(kpl.AggregateError, match="MD5 digest does not match"):
        kpl.deaggregate(bytes(blob), "pk")


def test_a_flipped_payload_byte_is_caught_by_the_digest() -> None:
    blob = bytearray(kpl.aggregate([("pk", b"payload")]))
    blob[len(kpl.MAGIC) + 6] ^= 0x20
    with pytest.raises(kpl.AggregateError, match="MD5"):
        kpl.deaggregate(bytes(blob), "pk")


@pytest.mark.parametrize("cut", [1, 5, 16, 17, 25])
def test_truncated_aggregate_is_refused(cut: int) -> None:
    blob = kpl.aggregate([("pk", b"x" * 20), ("pk2", b"y" * 20)])
    with pytest.raises(kpl.AggregateError):
        kpl.deaggregate(blob[:-cut], "pk")


def test_magic_alone_or_shorter_than_a_digest_is_truncated() -> None:
    for blob in (kpl.MAGIC, kpl.MAGIC + b"\x00" * 15):
        with pytest.raises(kpl.AggregateError, match="truncated aggregate"):
            kpl.deaggregate(blob, "pk")


def test_truncated_protobuf_with_a_valid_digest_is_refused() -> None:
    # Given a body cut inside a length-delimited field, re-signed so the digest matches
    body = kpl.aggregate([("pk", b"hello world")])[len(kpl.MAGIC) : -kpl.DIGEST_SIZE]
    with pytest.raises(kpl.AggregateError, match="truncated"):
        kpl.deaggregate(_with_digest(body[:-3]), "pk")


def test_empty_aggregate_is_refused_not_silently_dropped() -> None:
    # Given a well-formed aggregate with a valid digest but no records
    blob = _with_digest(b"")
    # Then it is an error: a consumer must not count a Kinesis record as zero user records
    with pytest.raises(kpl.AggregateError, match="no records"):
        kpl.deaggregate(blob, "pk")
    with pytest.raises(ValueError, match="at least one record"):
        kpl.aggregate([])


def test_index_outside_the_key_table_is_refused() -> None:
    # Given a record pointing at partition key 3 of a one-key table
    record = bytes([0x08, 0x03, 0x1A, 0x01]) + b"x"
    body = bytes([0x0A, 0x01]) + b"k" + bytes([0x1A, len(record)]) + record
    with pytest.raises(kpl.AggregateError, match="partition_key_index 3 outside"):
        kpl.deaggregate(_with_digest(body), "pk")


def test_record_without_data_or_key_index_is_refused() -> None:
    no_data = bytes([0x08, 0x00])
    body = bytes([0x0A, 0x01]) + b"k" + bytes([0x1A, len(no_data)]) + no_data
    with pytest.raises(kpl.AggregateError, match="no data"):
        kpl.decode(_with_digest(body))
    no_index = bytes([0x1A, 0x01]) + b"x"
    body = bytes([0x0A, 0x01]) + b"k" + bytes([0x1A, len(no_index)]) + no_index
    with pytest.raises(kpl.AggregateError, match="no partition_key_index"):
        kpl.decode(_with_digest(body))


def test_unsupported_wire_type_and_bad_utf8_key_are_refused() -> None:
    with pytest.raises(kpl.AggregateError, match="wire type 3"):
        kpl.decode(_with_digest(bytes([0x0B])))  # field 1, start-group
    with pytest.raises(kpl.AggregateError, match="not UTF-8"):
        kpl.decode(_with_digest(bytes([0x0A, 0x01, 0xFF])))


def test_unknown_fields_are_skipped() -> None:
    # Given a valid aggregate followed by an unknown varint field 9 and fixed64 field 10
    body = kpl.aggregate([("pk", b"data")])[len(kpl.MAGIC) : -kpl.DIGEST_SIZE]
    extra = bytes([0x48, 0x96, 0x01]) + bytes([0x51]) + b"\x00" * 8
    assert kpl.deaggregate(_with_digest(body + extra), "x") == [("pk", b"data")]


def test_thousand_records_round_trip_and_share_the_key_table() -> None:
    records = [
        (f"card-{i % 10}", json.dumps({"transaction_id": f"t{i}", "amount": i}).encode())
        for i in range(1000)
    ]
    blob = kpl.aggregate(records)
    # Ten distinct partition keys are stored once each
    assert blob.count(b"card-3") == 1
    assert kpl.deaggregate(blob, "outer") == records
    decoded = kpl.decode(blob)
    assert len(decoded) == 1000 and decoded[999].partition_key == "card-9"


def test_large_payload_uses_multi_byte_lengths() -> None:
    big = bytes(range(256)) * 4096  # 1 MiB: a three-byte varint length
    assert kpl.deaggregate(kpl.aggregate([("pk", big)]), "pk") == [("pk", big)]
