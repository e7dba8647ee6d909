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


def _decodable():
    """Elements as a graph holds them; the serde's output for each is what reads must return."""
    from langchain_core.messages import ToolMessage

    return [
        HumanMessage("hi", id="1"),
        HumanMessage("no id"),
        AIMessage("calling", id="2", tool_calls=[{"name": "f", "args": {"x": [1, (2, 3)]}, "id": "c1"}],
                  additional_kwargs={"k": {"nested": [1.0, True, None]}}, response_metadata={"model": "m"}),
        ToolMessage("result", tool_call_id="c1", id="3"),
        {"when": datetime.datetime(2026, 1, 2, 3, 4, 5), "colour": Colour.RED, "pair": (1, 2), "raw": b"\x00\x01"},
        [1, [2, {"three": 3.0}]],
        (4, 5),
        Point(1.5, -2.0),
        "plain text",
        42,
    ]


def test_decoded_elements_are_revived_exactly_and_independently():
    """A second read of an element is a copy of the serde's own first decoding: equal in value,
    type and pydantic's record of set fields to a fresh decode, and independent of every other
    copy handed out."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    from langgraph_ckpt_config.element_memo import DecodedElements

    serde = JsonPlusSerializer(allowed_msgpack_modules=[("tests.test_element_memo", "Point"), ("tests.test_element_memo", "Colour")])
    items = [serde.dumps_typed(e) for e in _decodable()]
    digests = [f"d{i}" for i in range(len(items))]
    decoded = DecodedElements(max_bytes=1 << 20)
    first, fps = decoded.decode(digests, items, serde.loads_typed)
    assert [fp is None for fp in fps] == [False] * 8 + [True] * 2  # a str and an int are decoded every time
    calls: list = []

    def counting(item):
        calls.append(item)
        return serde.loads_typed(item)

    second, _ = decoded.decode(digests, items, counting)
    # decoded again: the str and the int (no fingerprint), and the dict holding a datetime and
    # an enum (objects rebuilt from classes looked up by name: not revived, see the next test)
    assert [items.index(item) for item in calls] == [4, 8, 9]
    fresh = [serde.loads_typed(item) for item in items]
    for a, b, c in zip(first, second, fresh):
        assert type(b) is type(c) and b == c and a == c
        if hasattr(c, "model_fields_set"):
            assert b.model_fields_set == c.model_fields_set
            assert b.model_dump(exclude_unset=True) == c.model_dump(exclude_unset=True)
    for a, b in zip(first[:8], second[:8]):
        assert a is not b
    second[2].additional_kwargs["k"]["nested"].append("edited")  # in place, deep
    second[4]["raw"] = b"changed"
    third, _ = decoded.decode(digests, items, serde.loads_typed)
    assert third[2].additional_kwargs["k"]["nested"] == [1.0, True, None] and third == fresh
    assert first[2].additional_kwargs["k"]["nested"] == [1.0, True, None]


def test_decoded_elements_are_bounded_by_bytes():
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    from langgraph_ckpt_config.element_memo import DecodedElements

    serde = JsonPlusSerializer()
    items = [serde.dumps_typed({"i": i, "pad": "x" * 100}) for i in range(10)]
    one = len(fingerprint({"i": 0, "pad": "x" * 100})) + DecodedElements.ENTRY_OVERHEAD
    decoded = DecodedElements(max_bytes=4 * one)
    decoded.decode([f"d{i}" for i in range(10)], items, serde.loads_typed)
    calls: list = []
    values, _ = decoded.decode([f"d{i}" for i in range(10)], items, lambda item: calls.append(item) or serde.loads_typed(item))
    assert values == [{"i": i, "pad": "x" * 100} for i in range(10)]
    assert len(calls) == 6  # room for 4: the 6 oldest went and are decoded again, the newest 4 revived


def test_a_redefined_class_is_decoded_into_the_new_class():
    """A re-run notebook cell or a reloaded module replaces a class: later reads must build
    the new class (with its new fields), as the serde does, never revive the old one."""
    import sys
    import types

    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
    from pydantic import BaseModel

    from langgraph_ckpt_config.element_memo import DecodedElements

    module = types.ModuleType("lgckpt_redefined_models")
    sys.modules[module.__name__] = module
    try:
        def define(extra: bool):
            namespace = {"__module__": module.__name__, "__annotations__": {"title": str}}
            if extra:
                namespace["__annotations__"]["priority"] = int
                namespace["priority"] = 0
            cls = type(BaseModel)("Ticket", (BaseModel,), namespace)
            module.Ticket = cls
            return cls

        old = define(extra=False)
        serde = JsonPlusSerializer(allowed_msgpack_modules=[(module.__name__, "Ticket")])
        item = serde.dumps_typed(old(title="t"))
        nested = serde.dumps_typed({"ticket": old(title="n")})
        decoded = DecodedElements(max_bytes=1 << 20)
        first, _ = decoded.decode(["d1", "d2"], [item, nested], serde.loads_typed)
        assert type(first[0]) is old and type(first[1]["ticket"]) is old
        new = define(extra=True)
        second, _ = decoded.decode(["d1", "d2"], [item, nested], serde.loads_typed)
        assert type(second[0]) is new and second[0].priority == 0
        assert type(second[1]["ticket"]) is new and second[1]["ticket"].priority == 0
    finally:
        del sys.modules[module.__name__]
