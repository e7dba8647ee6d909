"""Real LangGraph graphs whose observable behaviour must not depend on the checkpointer.

Each scenario runs a deterministic graph (no LLM) on the saver it is given and
returns a normalized, comparable result: final values, ``get_state`` and the
whole ``get_state_history`` (values, next, metadata; checkpoint ids and
timestamps removed because they are random). A test runs a scenario on our
saver and on ``InMemorySaver`` and asserts both results are equal::

    from langgraph_ckpt_config.testing.graphs import SCENARIOS, run_scenario
    assert run_scenario(name, my_saver) == run_scenario(name, InMemorySaver())
"""

from __future__ import annotations

import asyncio
import dataclasses
import operator
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage
from langgraph.channels.delta import DeltaChannel
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command, Send, interrupt
from pydantic import BaseModel
from typing_extensions import TypedDict


# ---------------------------------------------------------------------------- normalization
def normalize(value: Any) -> Any:
    """A structure comparable across runs: messages as tuples, containers walked."""
    if isinstance(value, BaseMessage):
        return (type(value).__name__, value.content, value.id)
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(normalize(v) for v in value)
    return value


def _metadata(md: dict[str, Any] | None) -> dict[str, Any]:
    md = dict(md or {})
    md.pop("run_id", None)
    if "parents" in md:
        md["parents"] = sorted(md["parents"])  # namespaces only: ids are random
    return md


def snapshot(state) -> dict[str, Any]:
    return {
        "values": normalize(state.values),
        "next": tuple(state.next),
        "metadata": _metadata(state.metadata),
        "tasks": [(t.name, normalize(t.interrupts and [i.value for i in t.interrupts])) for t in state.tasks],
        "has_parent": state.parent_config is not None,
    }


def history(graph, config) -> list[dict[str, Any]]:
    return [snapshot(s) for s in graph.get_state_history(config)]


async def ahistory(graph, config) -> list[dict[str, Any]]:
    return [snapshot(s) async for s in graph.aget_state_history(config)]


# ---------------------------------------------------------------------------- graphs
class ChatState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    settings: dict[str, Any]
    turns: int


def _echo(state: ChatState) -> dict[str, Any]:
    turn = state.get("turns", 0) + 1
    last = state["messages"][-1].content
    return {"messages": [AIMessage(f"echo {turn}: {last}", id=f"ai-{turn}")], "turns": turn}


class DeltaState(TypedDict, total=False):
    #: rebuilt from the writes of ancestors, snapshotted every 3 steps (LangGraph's DeltaChannel)
    items: Annotated[list[str], DeltaChannel(operator.add, snapshot_frequency=3)]
    step: int


def _add_item(state: DeltaState) -> dict[str, Any]:
    step = state.get("step", 0) + 1
    return {"items": [f"item-{step}"], "step": step}


def delta_graph():
    """One node appending an item per invoke to a ``DeltaChannel``: what pruning and retention
    must keep is the ancestors a kept checkpoint's items are rebuilt from."""
    builder = StateGraph(DeltaState)
    builder.add_node("add", _add_item)
    builder.add_edge(START, "add")
    builder.add_edge("add", END)
    return builder

def chat_graph():
    builder = StateGraph(ChatState)
    builder.add_node("echo", _echo)
    builder.add_edge(START, "echo")
    builder.add_edge("echo", END)
    return builder


class ApprovalState(TypedDict, total=False):
    request: str
    decision: str
    log: Annotated[list[str], operator.add]


def _ask(state: ApprovalState) -> dict[str, Any]:
    decision = interrupt({"approve?": state["request"]})
    return {"decision": decision, "log": [f"decided {decision}"]}


def _act(state: ApprovalState) -> dict[str, Any]:
    return {"log": [f"acted on {state['request']} ({state['decision']})"]}


def approval_graph():
    builder = StateGraph(ApprovalState)
    builder.add_node("ask", _ask)
    builder.add_node("act", _act)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", "act")
    builder.add_edge("act", END)
    return builder


def subgraph_parent():
    inner = approval_graph().compile()

    def before(state: ApprovalState) -> dict[str, Any]:
        return {"log": ["parent before"]}

    builder = StateGraph(ApprovalState)
    builder.add_node("before", before)
    builder.add_node("inner", inner)
    builder.add_edge(START, "before")
    builder.add_edge("before", "inner")
    builder.add_edge("inner", END)
    return builder


class FanState(TypedDict, total=False):
    items: list[str]
    results: Annotated[list[str], operator.add]


def fanout_graph(calls: dict[str, int], fail_once: set[str]):
    """``Send`` fan-out over ``items``; each item in ``fail_once`` raises on its first run.

    The failing branch raises only after every other branch has returned (plus a short
    grace period for LangGraph to record their writes). Without that ordering the
    scenario is racy with *any* checkpointer, ``InMemorySaver`` included: a branch still
    running when its sibling fails is cancelled and legitimately runs again on resume.
    """
    lock = threading.Lock()
    finished: set[str] = set()
    others_done = threading.Event()
    expected: set[str] = set()

    def split(state: FanState) -> dict[str, Any]:
        return {}

    def route(state: FanState):
        expected.clear()
        expected.update(set(state["items"]) - fail_once)
        return [Send("work", {"items": [item]}) for item in state["items"]]

    def work(state: FanState) -> dict[str, Any]:
        item = state["items"][0]
        with lock:
            calls[item] = calls.get(item, 0) + 1
            first_run = calls[item] == 1
        if item in fail_once and first_run:
            others_done.wait(timeout=10)
            time.sleep(0.2)
            raise RuntimeError(f"transient failure on {item}")
        with lock:
            finished.add(item)
            if expected <= finished:
                others_done.set()
        return {"results": [f"done {item}"]}

    builder = StateGraph(FanState)
    builder.add_node("split", split)
    builder.add_node("work", work)
    builder.add_edge(START, "split")
    builder.add_conditional_edges("split", route, ["work"])
    builder.add_edge("work", END)
    return builder


class Profile(BaseModel):
    name: str
    score: float


@dataclasses.dataclass
class Preference:
    key: str
    value: int


class TypedState(TypedDict, total=False):
    profile: Profile
    prefs: list[Preference]
    count: int


def typed_graph():
    def update(state: TypedState) -> dict[str, Any]:
        count = state.get("count", 0) + 1
        return {
            "profile": Profile(name=state["profile"].name, score=state["profile"].score + 1),
            "prefs": [*state.get("prefs", []), Preference(f"k{count}", count)],
            "count": count,
        }

    builder = StateGraph(TypedState)
    builder.add_node("update", update)
    builder.add_edge(START, "update")
    builder.add_edge("update", END)
    return builder


# ---------------------------------------------------------------------------- scenarios
def _cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def scenario_chat(saver) -> dict[str, Any]:
    graph = chat_graph().compile(checkpointer=saver)
    out: dict[str, Any] = {}
    for thread in ("chat-a", "chat-b", "chat-c"):
        for turn in range(3):
            msg = HumanMessage(f"{thread} says {turn}", id=f"{thread}-h{turn}")
            graph.invoke({"messages": [msg], "settings": {"lang": "en"}}, _cfg(thread))
        out[thread] = {"state": snapshot(graph.get_state(_cfg(thread))), "history": history(graph, _cfg(thread))}
    out["limited"] = [snapshot(s) for s in graph.get_state_history(_cfg("chat-a"), limit=2)]
    return out


def scenario_interrupt(saver) -> dict[str, Any]:
    graph = approval_graph().compile(checkpointer=saver)
    first = graph.invoke({"request": "refund 42"}, _cfg("ask"))
    paused = snapshot(graph.get_state(_cfg("ask")))
    final = graph.invoke(Command(resume="yes"), _cfg("ask"))
    return {
        "first": normalize({k: v for k, v in first.items() if k != "__interrupt__"}),
        "interrupt": [i.value for i in first.get("__interrupt__", [])],
        "paused": paused,
        "final": normalize(final),
        "history": history(graph, _cfg("ask")),
    }


class QuestionsState(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    note: str


def _three_questions(state: QuestionsState) -> dict[str, Any]:
    a = interrupt("first?")
    b = interrupt("second?")
    c = interrupt("third?")
    return {"log": [f"answers: {a} {b} {c}"]}


def scenario_resume_values(saver) -> dict[str, Any]:
    """Several interrupts in one node, a resume sent with a state update, and a resume sent
    again to an older checkpoint: the stored resume values are replaced, as LangGraph expects
    of special writes, while regular writes of the same call are kept."""
    builder = StateGraph(QuestionsState)
    builder.add_node("ask", _three_questions)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    graph = builder.compile(checkpointer=saver)
    graph.invoke({"log": []}, _cfg("q"))
    graph.invoke(Command(resume="A", update={"note": "n1"}), _cfg("q"))
    graph.invoke(Command(resume="B"), _cfg("q"))
    waiting = snapshot(graph.get_state(_cfg("q")))
    again = graph.invoke(None, _cfg("q"))
    final = graph.invoke(Command(resume="C"), _cfg("q"))
    asked = [s for s in graph.get_state_history(_cfg("q")) if s.next == ("ask",)][0]
    replayed = graph.invoke(Command(resume="X"), asked.config)
    return {
        "waiting": waiting,
        "again": [i.value for i in again.get("__interrupt__", [])],
        "final": normalize(final),
        "replayed": normalize(replayed),
        "history": history(graph, _cfg("q")),
    }


def scenario_time_travel(saver) -> dict[str, Any]:
    graph = chat_graph().compile(checkpointer=saver)
    for turn in range(3):
        graph.invoke({"messages": [HumanMessage(f"m{turn}", id=f"h{turn}")]}, _cfg("tt"))
    old = [s for s in graph.get_state_history(_cfg("tt")) if s.next == ("echo",)][-2]  # the second turn's start
    fork = graph.update_state(old.config, {"messages": [HumanMessage("forked", id="fork")]})
    forked = graph.invoke(None, fork)
    return {
        "forked": normalize(forked),
        "head": snapshot(graph.get_state(_cfg("tt"))),
        "history": history(graph, _cfg("tt")),
        "old_still_there": snapshot(graph.get_state(old.config)),
    }


def scenario_subgraph(saver) -> dict[str, Any]:
    graph = subgraph_parent().compile(checkpointer=saver)
    first = graph.invoke({"request": "inner thing"}, _cfg("sub"))
    state = graph.get_state(_cfg("sub"), subgraphs=True)
    sub_states = [snapshot(t.state) for t in state.tasks if t.state is not None]
    final = graph.invoke(Command(resume="ok"), _cfg("sub"))
    return {
        "interrupt": [i.value for i in first.get("__interrupt__", [])],
        "paused": snapshot(state),
        "sub_states": sub_states,
        "final": normalize(final),
        "history": history(graph, _cfg("sub")),
    }


def scenario_send_failure(saver) -> dict[str, Any]:
    calls: dict[str, int] = {}
    graph = fanout_graph(calls, fail_once={"b"}).compile(checkpointer=saver)
    error = None
    # durability="sync": the failing step's successful branches are saved before the error
    # surfaces (with "async", LangGraph may shut its executor down while a save is queued).
    try:
        graph.invoke({"items": ["a", "b", "c"]}, _cfg("fan"), durability="sync")
    except RuntimeError as exc:
        error = str(exc)
    final = graph.invoke(None, _cfg("fan"), durability="sync")
    return {
        "error": error,
        "calls": dict(sorted(calls.items())),  # a and c must have run exactly once
        "final": {"items": final["items"], "results": sorted(final["results"])},
        "history_len": len(history(graph, _cfg("fan"))),
    }


def scenario_durability(saver) -> dict[str, Any]:
    out = {}
    for mode in ("sync", "async", "exit"):
        graph = chat_graph().compile(checkpointer=saver)
        thread = f"dur-{mode}"
        for turn in range(2):
            graph.invoke({"messages": [HumanMessage(f"{mode}{turn}", id=f"{mode}{turn}")]}, _cfg(thread), durability=mode)
        out[mode] = {"state": snapshot(graph.get_state(_cfg(thread))), "history": history(graph, _cfg(thread))}
    return out


def scenario_typed_state(saver) -> dict[str, Any]:
    graph = typed_graph().compile(checkpointer=saver)
    graph.invoke({"profile": Profile(name="ada", score=1.0)}, _cfg("typed"))
    graph.invoke({}, _cfg("typed"))
    state = graph.get_state(_cfg("typed"))
    values = state.values
    return {
        "types": (type(values["profile"]).__name__, [type(p).__name__ for p in values["prefs"]]),
        "values": values,
        "history": history(graph, _cfg("typed")),
    }


async def _async_chat(saver) -> dict[str, Any]:
    graph = chat_graph().compile(checkpointer=saver)
    for turn in range(3):
        await graph.ainvoke({"messages": [HumanMessage(f"a{turn}", id=f"a{turn}")]}, _cfg("achat"))
    chunks = [c async for c in graph.astream({"messages": [HumanMessage("s", id="s")]}, _cfg("achat"), stream_mode="updates")]
    approval = approval_graph().compile(checkpointer=saver)
    await approval.ainvoke({"request": "async"}, _cfg("aask"))
    final = await approval.ainvoke(Command(resume="fine"), _cfg("aask"))
    return {
        "state": snapshot(await graph.aget_state(_cfg("achat"))),
        "history": await ahistory(graph, _cfg("achat")),
        "chunks": normalize(chunks),
        "approval": normalize(final),
        "approval_history": await ahistory(approval, _cfg("aask")),
    }


def scenario_async(saver) -> dict[str, Any]:
    return asyncio.run(_async_chat(saver))


SCENARIOS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "chat": scenario_chat,
    "interrupt": scenario_interrupt,
    "resume_values": scenario_resume_values,
    "time_travel": scenario_time_travel,
    "subgraph": scenario_subgraph,
    "send_failure": scenario_send_failure,
    "durability": scenario_durability,
    "typed_state": scenario_typed_state,
    "async": scenario_async,
}


def run_scenario(name: str, saver) -> dict[str, Any]:
    return SCENARIOS[name](saver)
