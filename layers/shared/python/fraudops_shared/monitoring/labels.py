"""Labels joined to decisions exactly once, at read time.

The labels zone holds label events (the ``labels`` contract), each once (a redelivered event,
same ``label_id``, is a ``duplicate_key`` at ingestion). Every watch resolves all the events it
reads into one verdict per transaction, from scratch, so a rerun or a redelivery cannot count
anything twice:

* events of one transaction are taken in label time (then label id, for a stable order);
* an event with the verdict already held is a **repeat**: it changes nothing;
* a later event with the other verdict **supersedes** it: a **correction**;
* two events at the same label time with opposite verdicts are a **conflict**: the transaction
  has no verdict (it counts nowhere) until a later event settles it (a correction);
* a verdict whose transaction has no decision is **unmatched**: counted, kept in the zone, and
  matched by the first watch that finds the decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# label zone columns the join reads (the `labels` contract)
LABEL_COLUMNS = ("label_id", "transaction_id", "is_fraud", "label_time", "source")


@dataclass(frozen=True)
class Verdict:
    is_fraud: bool | None  # None: conflicting events at the same label time
    label_time: datetime
    source: str
    events: int


@dataclass
class LabelBook:
    """The verdict of every labelled transaction, and how the events came to it."""

    verdicts: dict[str, Verdict] = field(default_factory=dict)
    events: int = 0
    duplicate_events: int = 0  # the same label_id read twice (never expected: counted anyway)
    repeats: int = 0
    corrections: int = 0
    conflicts: int = 0

    def verdict(self, transaction_id: str) -> bool | None:
        v = self.verdicts.get(transaction_id)
        return None if v is None else v.is_fraud

    def counts(self) -> dict[str, int]:
        return {
            "label_events": self.events,
            "labelled_transactions": len(self.verdicts),
            "repeats": self.repeats,
            "corrections": self.corrections,
            "conflicts": self.conflicts,
            "conflicting_now": sum(1 for v in self.verdicts.values() if v.is_fraud is None),
            "duplicate_events": self.duplicate_events,
        }


def _events(chunks: Iterable[Mapping[str, Sequence[Any]]]) -> dict[str, list[tuple[Any, ...]]]:
    by_txn: dict[str, list[tuple[Any, ...]]] = {}
    for chunk in chunks:
        columns = [chunk[c] for c in LABEL_COLUMNS]
        for label_id, txn, is_fraud, at, source in zip(*columns, strict=True):
            if txn is None or is_fraud is None or at is None:
                continue  # the contract makes these non-null: a hand-made zone may not
            by_txn.setdefault(str(txn), []).append((at, str(label_id), bool(is_fraud), source))
    return by_txn


def resolve(chunks: Iterable[Mapping[str, Sequence[Any]]]) -> LabelBook:
    """Every label event read, as one verdict per transaction (rules: the module's docstring)."""
    book = LabelBook()
    for txn, events in _events(chunks).items():
        events.sort(key=lambda e: (e[0], e[1]))
        seen: set[str] = set()
        current: Verdict | None = None
        for at, label_id, is_fraud, source in events:
            if label_id in seen:
                book.duplicate_events += 1
                continue
            seen.add(label_id)
            book.events += 1
            if current is None:
                current = Verdict(is_fraud, at, str(source), 1)
            elif (
                at == current.label_time
                and current.is_fraud is not None
                and (is_fraud != current.is_fraud)
            ):
                book.conflicts += 1
                current = Verdict(None, at, "conflict", current.events + 1)
            elif is_fraud == current.is_fraud:
                book.repeats += 1
                current = Verdict(current.is_fraud, current.label_time, current.source,
                                  current.events + 1)  # fmt: skip
            elif at == current.label_time:  # a third event in an unsettled tie: still a tie
                book.conflicts += 1
                current = Verdict(None, at, "conflict", current.events + 1)
            else:
                book.corrections += 1
                current = Verdict(is_fraud, at, str(source), current.events + 1)
        if current is not None:
            book.verdicts[txn] = current
    return book


@dataclass(frozen=True)
class Matching:
    matched: int
    unmatched: int

    def as_dict(self) -> dict[str, int]:
        return {"matched": self.matched, "unmatched": self.unmatched}


def match(book: LabelBook, decided: Iterable[str]) -> Matching:
    """How many labelled transactions have a decision among ``decided`` (the transaction ids of
    the decisions zone over the label horizon, read once, in any order, repeats allowed).

    Only the labelled ids are held: the horizon's decisions outnumber its labels by far (a
    month at 1 M a day is 30 M ids), so memory follows the label book, not the traffic."""
    found = {txn for txn in decided if txn in book.verdicts}
    return Matching(len(found), len(book.verdicts) - len(found))
