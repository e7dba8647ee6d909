"""Fingerprints: when the adapter may skip serializing a list element again."""

from __future__ import annotations

import array
import dataclasses
import datetime
import enum
import threading

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from langgraph_ckpt_config.element_memo import FingerprintMemo, fingerprint


class Colour(str, enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: float
    y: float


def _edits():
    """(element, in-place edit) pairs: every edit must change the fingerprint."""
    return [
        (HumanMessage("hi", id="1"), lambda m: setattr(m, "content", "hi!")),
        (HumanMessage("hi"), lambda m: setattr(m, "id", "assigned")),  # what add_messages does
        (AIMessage("a", additional_kwargs={"k": [1]}), lambda m: m.additional_kwargs["k"].append(2)),
        (AIMessage("a", response_metadata={"n": 1}), lambda m: m.response_metadata.update(n=1.0)),
        (AIMessage("a", response_metadata={"n": 1}), lambda m: m.response_metadata.update(n=True)),
        ({"a": 1}, lambda d: d.update(a=1.0)),
        ({"a": "x"}, lambda d: d.update(a=b"x")),
        ({"a": b"x"}, lambda d: d.update(a=bytearray(b"x"))),
        ({"a": "red"}, lambda d: d.update(a=Colour.RED)),
        ({"when": datetime.datetime(2026, 1, 1)}, lambda d: d.update(when=datetime.datetime(2026, 1, 2))),
        ({"a": array.array("b", [1, 2])}, lambda d: d.update(a=array.array("B", [1, 2]))),  # same bytes
        (HumanMessage("x", additional_kwargs={"p": Point(1, 2)}), lambda m: setattr(m.additional_kwargs["p"], "x", 5)),
        ([1, [2]], lambda v: v[1].append(3)),
        ([1, 2], lambda v: v.reverse()),
        (Point(1.0, 2.0), lambda p: setattr(p, "y", 3.0)),
    ]


@pytest.mark.parametrize("element, edit", _edits())
def test_an_in_place_edit_changes_the_fingerprint(element, edit):
    before = fingerprint(element)
    assert before is not None
    assert fingerprint(element) == before  # stable while unchanged
    edit(element)
    assert fingerprint(element) != before


@pytest.mark.parametrize(
    "element",
    [
        {"lock": threading.Lock()},  # cannot be pickled
        [memoryview(b"abc")],
        "a string",  # immutable and cheap to serialize: not memoized
        object(),
    ],
)
def test_no_fingerprint_when_the_state_is_not_exact(element):
    assert fingerprint(element) is None


def test_equal_values_of_different_types_differ():
    assert fingerprint({"a": 1}) != fingerprint({"a": 1.0}) != fingerprint({"a": True})
    assert fingerprint([1, 2]) != fingerprint((1, 2))
    assert fingerprint({"a": b"x"}) != fingerprint({"a": bytearray(b"x")})
    assert fingerprint({"a": "red"}) != fingerprint({"a": Colour.RED})


def test_memo_hits_only_for_the_same_class_and_state():
    memo = FingerprintMemo(max_bytes=1 << 20)
    message = HumanMessage("hi", id="1")
    assert memo.digests_of([message])[0][0] is None
    memo.remember(message, fingerprint(message), "d1")
    assert memo.digests_of([message])[0] == ("d1", fingerprint(message))
    message.content = "changed"
    assert memo.digests_of([message])[0][0] is None
    twin = HumanMessage("hi", id="1")  # equal state, other object: not known by id
    assert memo.digests_of([twin])[0][0] is None


def test_memo_is_bounded_by_bytes():
    items = [{"i": i} for i in range(5)]
    memo = FingerprintMemo(max_bytes=4 * (len(fingerprint(items[0])) + FingerprintMemo.ENTRY_OVERHEAD))
    for i, item in enumerate(items):
        memo.remember(item, fingerprint(item), f"d{i}")
    assert [digest for digest, _ in memo.digests_of(items)] == [None, "d1", "d2", "d3", "d4"]


def test_memo_keeps_no_element_alive():
    import gc
    import weakref

    memo = FingerprintMemo(max_bytes=1 << 20)
    point = Point(1.0, 2.0)
    memo.remember(point, fingerprint(point), "d")
    ref = weakref.ref(point)
    del point
    gc.collect()
    assert ref() is None
