"""``make demo``: a deterministic support-desk agent on the default embedded manager.

No LLM and no network: the "agent" classifies tickets by keyword and drafts
canned replies. It shows what the package is for:

* the checkpointer comes from ``configs/checkpoint_managers.yaml`` (``from_config()``);
* several turns on two threads, continued on every run (run it twice: the
  threads grow instead of starting over);
* ``interrupt()`` for a human approval of refunds, then ``Command(resume=...)``;
* a time-travel fork from an earlier checkpoint;
* the thread history and the manager's statistics, printed with rich tables.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command, interrupt
from rich.console import Console
from rich.markup import escape
from typing_extensions import TypedDict


class TicketState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    category: str
    approved: bool
    log: Annotated[list[str], operator.add]


CATEGORIES = {"refund": ("refund", "money back", "charge"), "outage": ("down", "error", "outage")}


def classify(state: TicketState) -> dict[str, Any]:
    text = str(state["messages"][-1].content).lower()
    category = next((name for name, words in CATEGORIES.items() if any(w in text for w in words)), "question")
    return {"category": category, "log": [f"classified as {category}"]}


def approval(state: TicketState) -> dict[str, Any]:
    decision = interrupt({"question": "Approve this refund?", "ticket": state["messages"][-1].content})
    return {"approved": decision == "approve", "log": [f"human said {decision}"]}


def reply(state: TicketState) -> dict[str, Any]:
    turn = sum(1 for m in state["messages"] if isinstance(m, HumanMessage))
    category = state.get("category", "question")
    if category == "refund":
        text = "Your refund is approved." if state.get("approved") else "We cannot refund this order."
    elif category == "outage":
        text = "Engineers are on it; status page updated."
    else:
        text = "Thanks for asking - here is our FAQ."
    return {"messages": [AIMessage(f"[turn {turn}] {text}")], "log": [f"replied to turn {turn}"]}


def route(state: TicketState) -> str:
    return "approval" if state.get("category") == "refund" else "reply"


def build_graph():
    builder = StateGraph(TicketState)
    builder.add_node("classify", classify)
    builder.add_node("approval", approval)
    builder.add_node("reply", reply)
    builder.add_edge(START, "classify")
    builder.add_conditional_edges("classify", route, ["approval", "reply"])
    builder.add_edge("approval", "reply")
    builder.add_edge("reply", END)
    return builder


def show_with_cli(*args: str) -> None:
    """Print what an operator would see: the CLI's own commands and tables."""
    from langgraph_ckpt_config.cli import app

    try:
        app(args=list(args), prog_name="lgckpt", standalone_mode=False)
    except SystemExit as exc:  # typer exits after a command; only a failure matters here
        if exc.code:
            raise


def main() -> None:
    from langgraph_ckpt_config import from_config

    console = Console()
    with from_config() as saver:
        graph = build_graph().compile(checkpointer=saver)
        manager = saver.manager
        console.print(f"[bold]checkpointer:[/] {manager!r} from configs/checkpoint_managers.yaml")

        question = {"configurable": {"thread_id": "ticket-1001"}}
        refund = {"configurable": {"thread_id": "ticket-1002"}}

        graph.invoke({"messages": [HumanMessage("How do I reset my password?")]}, question)
        graph.invoke({"messages": [HumanMessage("The login page shows an error")]}, question)

        result = graph.invoke({"messages": [HumanMessage("I want my money back for order 42")]}, refund)
        pending = result.get("__interrupt__")
        if pending:
            console.print(f"[yellow]interrupted:[/] {pending[0].value['question']} -> resuming with 'approve'")
            result = graph.invoke(Command(resume="approve"), refund)
        console.print(f"refund thread answer: {escape(str(result['messages'][-1].content))}")

        # Time travel: go back to the checkpoint before the last question was classified and ask something else.
        history = list(graph.get_state_history(question))
        fork_from = next(s for s in history if s.next == ("classify",))
        fork_config = graph.update_state(fork_from.config, {"messages": [HumanMessage("Is the service down?")]})
        forked = graph.invoke(None, fork_config)
        console.print(f"forked answer: {escape(str(forked['messages'][-1].content))}")

    # The operator's view of the same store, through lgckpt's own tables.
    show_with_cli("history", "ticket-1001", "--limit", "6")
    show_with_cli("history", "ticket-1002")
    show_with_cli("stats")


if __name__ == "__main__":
    main()
