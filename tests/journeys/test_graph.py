"""The pure rules of a journey graph (journeys/graph.py): parsing, activation validation,
conditions, A/B splits, delays and response mapping. No database, no mocks."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest

from journeys.graph import (
    Edge,
    GraphInvalid,
    activation_problems,
    condition_holds,
    delay_until,
    parse_graph,
    response_values,
    split_branch,
)

UTC = dt.UTC
WEBHOOKS = {12: ["text"], 13: []}
LOOSE = "leads nowhere: connect it (end paths with an exit node)."
LOOP = "The graph has a loop; journeys move forward only."


def parse_problems(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> list[str]:
    with pytest.raises(GraphInvalid) as raised:
        parse_graph(nodes, edges)
    assert str(raised.value) == "; ".join(raised.value.problems)
    return raised.value.problems


def problems(
    nodes: list[dict[str, Any]], edges: list[dict[str, Any]], variables: dict[int, list[str]] | None = None
) -> list[str]:
    return activation_problems(parse_graph(nodes, edges), webhook_variables=WEBHOOKS if variables is None else variables)


def valid_nodes() -> list[dict[str, Any]]:
    return [
        {"key": "start", "type": "entry", "position": {"x": 40, "y": 40}},
        {"key": "check", "type": "condition", "config": {"field": "tags.plan", "op": "equals", "value": "pro"}},
        {"key": "ab", "type": "split", "config": {"branches": [{"key": "a", "percent": 30}, {"key": "b", "percent": 70}]}},
        {
            "key": "sms",
            "type": "webhook",
            "config": {"webhook": 12, "data": {"text": "Welcome {{ name }}"}, "response_to_tags": {"coupon.code": "coupon_code"}},
        },
        {"key": "wait", "type": "delay", "config": {"minutes": 30}},
        {"key": "morning", "type": "delay", "config": {"until_time": "09:00"}},
        {"key": "done", "type": "exit"},
    ]


def valid_edges() -> list[dict[str, Any]]:
    return [
        {"from": "start", "to": "check"},
        {"from": "check", "to": "ab", "branch": "true"},
        {"from": "check", "to": "done", "branch": "false"},
        {"from": "ab", "to": "sms", "branch": "a"},
        {"from": "ab", "to": "wait", "branch": "b"},
        {"from": "wait", "to": "morning"},
        {"from": "morning", "to": "done"},
        {"from": "sms", "to": "done", "branch": "success"},
        {"from": "sms", "to": "done", "branch": "failure"},
    ]


def single(kind: str, config: dict[str, Any], branches: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """entry → x (of `kind`) → done, with x's `branches` connected to done."""
    nodes = [{"key": "start", "type": "entry"}, {"key": "x", "type": kind, "config": config}, {"key": "done", "type": "exit"}]
    edges = [{"from": "start", "to": "x"}, *({"from": "x", "to": "done", "branch": b} for b in branches)]
    return nodes, edges


SPLIT_30_70 = {"branches": [{"key": "a", "percent": 30}, {"key": "b", "percent": 70}]}
BRANCHES_OF = {
    "delay": ({"minutes": 5}, [""]),
    "condition": ({"field": "tags.plan", "op": "exists"}, ["true", "false"]),
    "split": (SPLIT_30_70, ["a", "b"]),
    "webhook": ({"webhook": 12, "data": {"text": "hi"}}, ["success", "failure"]),
}


# --- parse_graph ---------------------------------------------------------------------------


def test_parse_graph_reads_the_api_shape() -> None:
    graph = parse_graph(valid_nodes(), [*valid_edges()[:-1], {"from": "sms", "to": "done", "branch": None}])

    assert [n.key for n in graph.nodes] == ["start", "check", "ab", "sms", "wait", "morning", "done"]
    assert graph.node("start").position == {"x": 40, "y": 40}
    assert graph.node("check").config == {"field": "tags.plan", "op": "equals", "value": "pro"}
    assert graph.node("done").config == {}
    assert graph.node("nope") is None
    assert graph.entry().key == "start"
    assert graph.edges[0] == Edge(source="start", target="check", branch="")
    assert graph.edges[-1] == Edge(source="sms", target="done", branch="")  # a null branch is ""
    assert graph.next_key("check", "true") == "ab"
    assert graph.next_key("check", "false") == "done"
    assert graph.next_key("start") == "check"
    assert graph.next_key("done") is None


def test_parse_graph_round_trips_through_to_json() -> None:
    graph = parse_graph(valid_nodes(), valid_edges())
    again = graph.to_json()

    assert parse_graph(again["nodes"], again["edges"]) == graph
    assert again["edges"][0] == {"from": "start", "to": "check"}
    assert again["edges"][1] == {"from": "check", "to": "ab", "branch": "true"}


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("", ""),
        ("has space", "has space"),
        ("dot.key", "dot.key"),
        ("ключ", "ключ"),
        ("k" * 101, "k" * 40),
    ],
)
def test_parse_graph_refuses_bad_keys(key: str, shown: str) -> None:
    assert parse_problems([{"key": key, "type": "exit"}], []) == [
        f"Node key '{shown}' must be 1-100 letters, digits, '-' or '_'."
    ]


def test_parse_graph_accepts_keys_up_to_100_characters() -> None:
    assert parse_graph([{"key": "A-z_9" * 20, "type": "exit"}], []).nodes[0].key == "A-z_9" * 20


def test_parse_graph_refuses_duplicate_keys() -> None:
    nodes = [{"key": "start", "type": "entry"}, {"key": "start", "type": "exit"}]
    assert parse_problems(nodes, []) == ["Node key 'start' is used twice."]


@pytest.mark.parametrize("kind", ["sms", "", "Entry"])
def test_parse_graph_refuses_unknown_types(kind: str) -> None:
    assert parse_problems([{"key": "n1", "type": kind}], []) == [
        f"Node 'n1' has an unknown type '{kind}' (one of entry, delay, condition, split, webhook, exit)."
    ]


def test_parse_graph_refuses_a_missing_type() -> None:
    assert parse_problems([{"key": "n1"}], []) == [
        "Node 'n1' has an unknown type '' (one of entry, delay, condition, split, webhook, exit)."
    ]


@pytest.mark.parametrize(
    ("edge", "shown"),
    [
        ({"from": "start", "to": "ghost"}, "start → ghost"),
        ({"from": "ghost", "to": "done"}, "ghost → done"),
        ({"from": "start"}, "start → "),
        ({"to": "done", "branch": "true"}, " → done"),
    ],
)
def test_parse_graph_refuses_dangling_edges(edge: dict[str, Any], shown: str) -> None:
    nodes = [{"key": "start", "type": "entry"}, {"key": "done", "type": "exit"}]
    assert parse_problems(nodes, [edge]) == [f"Edge {shown} joins a node that does not exist."]


@pytest.mark.parametrize(
    "bad",
    [{"config": ["minutes", 5]}, {"config": "minutes=5"}, {"config": 5}, {"position": [1, 2]}, {"position": "1,2"}],
)
def test_parse_graph_refuses_non_object_config_or_position(bad: dict[str, Any]) -> None:
    assert parse_problems([{"key": "wait", "type": "delay", **bad}], []) == ["Node 'wait': config and position must be objects."]


@pytest.mark.parametrize("empty", [None, {}, [], ""])
def test_parse_graph_treats_empty_config_as_no_config(empty: Any) -> None:
    graph = parse_graph([{"key": "done", "type": "exit", "config": empty, "position": empty}], [])
    assert graph.nodes[0].config == {}
    assert graph.nodes[0].position == {}


def test_parse_graph_lists_every_problem_at_once() -> None:
    nodes = [
        {"key": "a b", "type": "entry"},
        {"key": "x", "type": "sms"},
        {"key": "x", "type": "exit", "config": ["nope"]},
    ]
    edges = [{"from": "x", "to": "y"}]
    assert parse_problems(nodes, edges) == [
        "Node key 'a b' must be 1-100 letters, digits, '-' or '_'.",
        "Node 'x' has an unknown type 'sms' (one of entry, delay, condition, split, webhook, exit).",
        "Node key 'x' is used twice.",
        "Node 'x': config and position must be objects.",
        "Edge x → y joins a node that does not exist.",
    ]


def test_parse_graph_caps_the_number_of_nodes() -> None:
    nodes = [{"key": f"n{i}", "type": "exit"} for i in range(201)]
    assert parse_problems(nodes, []) == ["A journey may have at most 200 nodes."]
    assert len(parse_graph(nodes[:200], []).nodes) == 200


# --- activation_problems: structure ---------------------------------------------------------


def test_a_valid_graph_has_no_problems() -> None:
    assert problems(valid_nodes(), valid_edges()) == []


@pytest.mark.parametrize("kind", ["delay", "condition", "split", "webhook"])
def test_each_node_type_alone_is_valid_when_every_branch_is_connected(kind: str) -> None:
    config, branches = BRANCHES_OF[kind]
    assert problems(*single(kind, config, branches)) == []


def test_no_entry_node() -> None:
    nodes = [n for n in valid_nodes() if n["key"] != "start"]
    edges = [e for e in valid_edges() if e["from"] != "start"]
    # Without one entry, reachability is not judged (there is nothing to reach from).
    assert problems(nodes, edges) == ["A journey needs exactly one entry node (found 0)."]


def test_two_entry_nodes() -> None:
    nodes = [*valid_nodes(), {"key": "start2", "type": "entry"}]
    edges = [*valid_edges(), {"from": "start2", "to": "check"}]
    assert problems(nodes, edges) == ["A journey needs exactly one entry node (found 2)."]


def test_an_empty_graph() -> None:
    assert problems([], []) == ["A journey needs exactly one entry node (found 0)."]


def test_an_entry_that_leads_nowhere() -> None:
    nodes = [{"key": "start", "type": "entry"}, {"key": "done", "type": "exit"}]
    assert problems(nodes, []) == [
        f"Node 'start' {LOOSE}",
        "Node 'done' cannot be reached from the entry.",
    ]


@pytest.mark.parametrize(
    ("kind", "loose"),
    [
        ("delay", ""),
        ("condition", "true"),
        ("condition", "false"),
        ("split", "a"),
        ("split", "b"),
        ("webhook", "success"),
        ("webhook", "failure"),
    ],
)
def test_a_loose_end_on_each_branch(kind: str, loose: str) -> None:
    config, branches = BRANCHES_OF[kind]
    label = f" ({loose})" if loose else ""
    others = [b for b in branches if b != loose]
    unreachable = [] if others else ["Node 'done' cannot be reached from the entry."]
    assert problems(*single(kind, config, others)) == [f"Node 'x'{label} {LOOSE}", *unreachable]


def test_every_loose_branch_of_a_node_is_listed() -> None:
    assert problems(*single("webhook", {"webhook": 12, "data": {"text": "hi"}}, [])) == [
        f"Node 'x' (success) {LOOSE}",
        f"Node 'x' (failure) {LOOSE}",
        "Node 'done' cannot be reached from the entry.",
    ]


def test_a_split_with_three_branches_needs_all_three_connected() -> None:
    config = {"branches": [{"key": "a", "percent": 20}, {"key": "b", "percent": 30}, {"key": "c", "percent": 50}]}
    assert problems(*single("split", config, ["a", "b", "c"])) == []
    assert problems(*single("split", config, ["a", "c"])) == [f"Node 'x' (b) {LOOSE}"]


def test_an_exit_node_needs_no_way_out() -> None:
    nodes, edges = single("delay", {"minutes": 1}, [""])
    assert [n for n in nodes if n["key"] == "done"] == [{"key": "done", "type": "exit"}]
    assert not [e for e in edges if e["from"] == "done"]
    assert problems(nodes, edges) == []


@pytest.mark.parametrize(
    ("kind", "branch", "message"),
    [
        ("delay", "", "Node 'x' has more than one next node."),
        ("condition", "true", "Node 'x' (true) has more than one next node."),
        ("split", "b", "Node 'x' (b) has more than one next node."),
        ("webhook", "failure", "Node 'x' (failure) has more than one next node."),
    ],
)
def test_more_than_one_next_node(kind: str, branch: str, message: str) -> None:
    config, branches = BRANCHES_OF[kind]
    nodes, edges = single(kind, config, branches)
    nodes.append({"key": "done2", "type": "exit"})
    edges.append({"from": "x", "to": "done2", "branch": branch})
    assert problems(nodes, edges) == [message]


def test_the_same_edge_twice_is_more_than_one_next_node() -> None:
    nodes, edges = single("delay", {"minutes": 1}, ["", ""])
    assert problems(nodes, edges) == ["Node 'x' has more than one next node."]


@pytest.mark.parametrize(
    ("kind", "branch"),
    [
        ("delay", "true"),
        ("condition", ""),
        ("condition", "yes"),
        ("split", "c"),
        ("webhook", ""),
        ("webhook", "error"),
    ],
)
def test_an_edge_on_a_branch_the_node_does_not_have(kind: str, branch: str) -> None:
    config, branches = BRANCHES_OF[kind]
    nodes, edges = single(kind, config, branches)
    nodes.append({"key": "done2", "type": "exit"})
    edges.append({"from": "x", "to": "done2", "branch": branch})
    assert problems(nodes, edges) == [f"Edge from 'x' has a branch '{branch}' that this node does not have."]


def test_an_edge_out_of_an_exit_node() -> None:
    nodes, edges = single("delay", {"minutes": 1}, [""])
    nodes.append({"key": "after", "type": "exit"})
    edges.append({"from": "done", "to": "after"})
    assert problems(nodes, edges) == ["Edge from 'done' has a branch '' that this node does not have."]


def test_an_unknown_branch_instead_of_the_right_one_also_leaves_a_loose_end() -> None:
    nodes, edges = single("delay", {"minutes": 1}, ["later"])
    assert problems(nodes, edges) == [
        f"Node 'x' {LOOSE}",
        "Edge from 'x' has a branch 'later' that this node does not have.",
    ]


def test_an_unreachable_node() -> None:
    nodes = [*valid_nodes(), {"key": "orphan", "type": "exit"}]
    assert problems(nodes, valid_edges()) == ["Node 'orphan' cannot be reached from the entry."]


def test_an_unreachable_chain_lists_each_node() -> None:
    nodes = [*valid_nodes(), {"key": "lost", "type": "delay", "config": {"hours": 1}}, {"key": "lost_end", "type": "exit"}]
    edges = [*valid_edges(), {"from": "lost", "to": "lost_end"}]
    assert problems(nodes, edges) == [
        "Node 'lost' cannot be reached from the entry.",
        "Node 'lost_end' cannot be reached from the entry.",
    ]


def test_a_loop() -> None:
    nodes = [
        {"key": "start", "type": "entry"},
        {"key": "one", "type": "delay", "config": {"minutes": 1}},
        {"key": "two", "type": "condition", "config": {"field": "tags.done", "op": "exists"}},
        {"key": "done", "type": "exit"},
    ]
    edges = [
        {"from": "start", "to": "one"},
        {"from": "one", "to": "two"},
        {"from": "two", "to": "done", "branch": "true"},
        {"from": "two", "to": "one", "branch": "false"},
    ]
    assert problems(nodes, edges) == [LOOP]


def test_a_node_leading_to_itself_is_a_loop() -> None:
    nodes = [{"key": "start", "type": "entry"}, {"key": "again", "type": "delay", "config": {"minutes": 1}}]
    edges = [{"from": "start", "to": "again"}, {"from": "again", "to": "again"}]
    assert problems(nodes, edges) == [LOOP]


def test_a_loop_out_of_reach_is_a_loop_and_unreachable() -> None:
    nodes = [
        {"key": "start", "type": "entry"},
        {"key": "done", "type": "exit"},
        {"key": "p", "type": "delay", "config": {"minutes": 1}},
        {"key": "q", "type": "delay", "config": {"minutes": 1}},
    ]
    edges = [{"from": "start", "to": "done"}, {"from": "p", "to": "q"}, {"from": "q", "to": "p"}]
    assert problems(nodes, edges) == [
        LOOP,
        "Node 'p' cannot be reached from the entry.",
        "Node 'q' cannot be reached from the entry.",
    ]


def test_two_paths_joining_are_not_a_loop() -> None:
    # check (true) and check (false) both reach done, and ab's branches rejoin at done too.
    assert LOOP not in problems(valid_nodes(), valid_edges())
    assert problems(valid_nodes(), valid_edges()) == []


# --- activation_problems: node configuration ------------------------------------------------

DELAY_PROBLEM = "Node 'x': a delay needs one of minutes, hours or days (a whole number ≥ 0), or until_time."
UNTIL_PROBLEM = "Node 'x': until_time must be HH:MM (24-hour), in the user's time zone."
TOO_LONG_PROBLEM = (
    "Node 'x': a delay is at most 365 days (8760 hours, 525600 minutes); a longer one is most likely a unit typed wrong."
)


@pytest.mark.parametrize(
    "config",
    [
        {"minutes": 0},
        {"minutes": 45},
        {"hours": 2},
        {"days": 7},
        {"days": 365},
        {"hours": 8760},
        {"minutes": 525600},
        {"minutes": None, "days": 3},
        {"until_time": "00:00"},
        {"until_time": "09:00"},
        {"until_time": "23:59"},
    ],
)
def test_valid_delays(config: dict[str, Any]) -> None:
    assert problems(*single("delay", config, [""])) == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, DELAY_PROBLEM),
        ({"minutes": -1}, DELAY_PROBLEM),
        ({"minutes": 1.5}, DELAY_PROBLEM),
        ({"hours": "2"}, DELAY_PROBLEM),
        ({"days": True}, DELAY_PROBLEM),
        ({"minutes": 5, "hours": 1}, DELAY_PROBLEM),
        ({"weeks": 1}, DELAY_PROBLEM),
        ({"days": 366}, TOO_LONG_PROBLEM),
        ({"hours": 8761}, TOO_LONG_PROBLEM),
        ({"minutes": 525601}, TOO_LONG_PROBLEM),
        ({"days": 1_000_000_000}, TOO_LONG_PROBLEM),
        ({"until_time": "9:00"}, UNTIL_PROBLEM),
        ({"until_time": "24:00"}, UNTIL_PROBLEM),
        ({"until_time": "09:60"}, UNTIL_PROBLEM),
        ({"until_time": "09:00:00"}, UNTIL_PROBLEM),
        ({"until_time": ""}, UNTIL_PROBLEM),
        ({"until_time": 900}, UNTIL_PROBLEM),
    ],
)
def test_invalid_delays(config: dict[str, Any], message: str) -> None:
    assert problems(*single("delay", config, [""])) == [message]


@pytest.mark.parametrize("op", ["equals", "not_equals", "contains", "exists", "greater", "less"])
def test_valid_conditions(op: str) -> None:
    config = {"field": "entry_event.data.amount", "op": op, "value": 10}
    assert problems(*single("condition", config, ["true", "false"])) == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "Node 'x': a condition needs a field (e.g. tags.plan or entry_event.data.amount)."),
        ({"field": "  ", "op": "equals"}, "Node 'x': a condition needs a field (e.g. tags.plan or entry_event.data.amount)."),
        ({"field": "tags.plan"}, "Node 'x': op must be one of equals, not_equals, contains, exists, greater, less."),
        (
            {"field": "tags.plan", "op": "like"},
            "Node 'x': op must be one of equals, not_equals, contains, exists, greater, less.",
        ),
    ],
)
def test_invalid_conditions(config: dict[str, Any], message: str) -> None:
    assert problems(*single("condition", config, ["true", "false"])) == [message]


SPLIT_KEYS = "Node 'x': a split needs at least two branches with distinct keys."
SPLIT_PERCENT = "Node 'x': split percentages must be whole numbers adding up to 100."


@pytest.mark.parametrize(
    ("branches", "message"),
    [
        ([{"key": "a", "percent": 100}], SPLIT_KEYS),
        ([{"key": "a", "percent": 50}, {"key": "a", "percent": 50}], SPLIT_KEYS),
        ([{"key": "", "percent": 50}, {"key": "b", "percent": 50}], SPLIT_KEYS),
        ([{"key": "a", "percent": 30}, {"key": "b", "percent": 60}], SPLIT_PERCENT),
        ([{"key": "a", "percent": 30}, {"key": "b", "percent": 80}], SPLIT_PERCENT),
        ([{"key": "a", "percent": 30.0}, {"key": "b", "percent": 70}], SPLIT_PERCENT),
        ([{"key": "a", "percent": "30"}, {"key": "b", "percent": 70}], SPLIT_PERCENT),
        ([{"key": "a", "percent": -10}, {"key": "b", "percent": 110}], SPLIT_PERCENT),
        ([{"key": "a"}, {"key": "b", "percent": 100}], SPLIT_PERCENT),
        ([{"key": "a", "percent": True}, {"key": "b", "percent": 99}], SPLIT_PERCENT),
    ],
)
def test_invalid_splits(branches: list[dict[str, Any]], message: str) -> None:
    keys = list(dict.fromkeys(str(b.get("key", "")) for b in branches))
    assert problems(*single("split", {"branches": branches}, keys)) == [message]


def test_a_split_without_branches() -> None:
    assert problems(*single("split", {}, [])) == [SPLIT_KEYS, "Node 'done' cannot be reached from the entry."]


@pytest.mark.parametrize(
    ("branches", "unusable_edges"),
    [
        (["a", "b"], True),
        ("ab", True),
        (5, True),
        ({"a": 50, "b": 50}, True),
        ([{"key": "a", "percent": 50}, {"key": "b", "percent": 50}, "c"], False),
    ],
)
def test_a_split_with_branches_that_are_not_objects(branches: Any, unusable_edges: bool) -> None:
    edge_problems = [f"Edge from 'x' has a branch '{b}' that this node does not have." for b in ("a", "b")]
    assert problems(*single("split", {"branches": branches}, ["a", "b"])) == [
        SPLIT_KEYS,
        *(edge_problems if unusable_edges else []),
    ]


@pytest.mark.parametrize(
    "branches",
    [
        [{"key": "a", "percent": 0}, {"key": "b", "percent": 100}],
        [{"key": "a", "percent": 20}, {"key": "b", "percent": 30}, {"key": "c", "percent": 50}],
    ],
)
def test_valid_splits(branches: list[dict[str, Any]]) -> None:
    assert problems(*single("split", {"branches": branches}, [b["key"] for b in branches])) == []


PICK_WEBHOOK = "Node 'x': pick a webhook of this project."
BAD_MAPPING = "Node 'x': response mapping goes from a JSON path (e.g. coupon.code) to a tag name."


@pytest.mark.parametrize(
    ("config", "variables", "message"),
    [
        ({"data": {"text": "hi"}}, WEBHOOKS, PICK_WEBHOOK),
        ({"webhook": 99, "data": {"text": "hi"}}, WEBHOOKS, PICK_WEBHOOK),
        ({"webhook": "12", "data": {"text": "hi"}}, WEBHOOKS, PICK_WEBHOOK),
        ({"webhook": 12, "data": {"text": "hi"}}, {}, PICK_WEBHOOK),
        ({"webhook": 12}, WEBHOOKS, "Node 'x': fill the webhook's data variables: text."),
        ({"webhook": 12, "data": {"text": "  "}}, WEBHOOKS, "Node 'x': fill the webhook's data variables: text."),
        ({"webhook": 12, "data": {"other": "hi"}}, WEBHOOKS, "Node 'x': fill the webhook's data variables: text."),
        (
            {"webhook": 7, "data": {"code": "X"}},
            {7: ["text", "code", "sender"]},
            "Node 'x': fill the webhook's data variables: text, sender.",
        ),
        ({"webhook": 12, "data": {"text": "hi"}, "response_to_tags": {"coupon.code": ""}}, WEBHOOKS, BAD_MAPPING),
        ({"webhook": 12, "data": {"text": "hi"}, "response_to_tags": {"coupon.code": 5}}, WEBHOOKS, BAD_MAPPING),
        ({"webhook": 12, "data": {"text": "hi"}, "response_to_tags": ["coupon.code"]}, WEBHOOKS, BAD_MAPPING),
        ({"webhook": 12, "data": {"text": "hi"}, "response_to_tags": "coupon.code"}, WEBHOOKS, BAD_MAPPING),
    ],
)
def test_invalid_webhook_nodes(config: dict[str, Any], variables: dict[int, list[str]], message: str) -> None:
    assert problems(*single("webhook", config, ["success", "failure"]), variables) == [message]


@pytest.mark.parametrize(
    "config",
    [
        {"webhook": 12, "data": {"text": "Welcome {{ name }}"}},
        {"webhook": 12, "data": {"text": "hi", "extra": ""}},
        {"webhook": 13},
        {"webhook": 13, "data": {}},
        {"webhook": 12, "data": {"text": "hi"}, "response_to_tags": {}},
        {"webhook": 12, "data": {"text": "hi"}, "response_to_tags": {"coupon.code": "coupon_code", "items.0.sku": "sku"}},
    ],
)
def test_valid_webhook_nodes(config: dict[str, Any]) -> None:
    assert problems(*single("webhook", config, ["success", "failure"])) == []


@pytest.mark.parametrize("data", [["text"], "text=hi"])
@pytest.mark.parametrize("webhook", [12, 13])
def test_webhook_data_that_is_not_an_object(data: Any, webhook: int) -> None:
    assert problems(*single("webhook", {"webhook": webhook, "data": data}, ["success", "failure"])) == [
        "Node 'x': data must be an object of the webhook's data variables."
    ]


def test_problems_of_several_nodes_come_in_node_order_then_loop_then_reachability() -> None:
    nodes = [
        {"key": "start", "type": "entry"},
        {"key": "wait", "type": "delay", "config": {}},
        {"key": "sms", "type": "webhook", "config": {"webhook": 99}},
        {"key": "done", "type": "exit"},
        {"key": "orphan", "type": "exit"},
    ]
    edges = [
        {"from": "start", "to": "wait"},
        {"from": "wait", "to": "sms"},
        {"from": "sms", "to": "done", "branch": "success"},
        {"from": "sms", "to": "wait", "branch": "failure"},
    ]
    assert problems(nodes, edges) == [
        "Node 'wait': a delay needs one of minutes, hours or days (a whole number ≥ 0), or until_time.",
        "Node 'sms': pick a webhook of this project.",
        LOOP,
        "Node 'orphan' cannot be reached from the entry.",
    ]


# --- condition_holds ------------------------------------------------------------------------

CONTEXT: dict[str, Any] = {
    "userId": "u-1001",
    "name": "Minji Kim",
    "country": "KR",
    "tags": {
        "plan": "pro",
        "visits": 3,
        "score": "7.5",
        "labels": ["vip", "beta"],
        "ids": [1, 3],
        "empty": "",
        "nothing": None,
        "zero": 0,
        "flag": True,
    },
    "entry_event": {"type": "signup", "data": {"amount": 42, "plan": "pro", "code": "3", "items": ["a", "b"]}},
}


@pytest.mark.parametrize(
    ("field", "op", "value", "expected"),
    [
        # equals: attributes, tags, entry_event.data; numbers and strings compare by text
        ("country", "equals", "KR", True),
        ("country", "equals", "US", False),
        ("tags.plan", "equals", "pro", True),
        ("tags.plan", "equals", "Pro", False),
        ("tags.visits", "equals", "3", True),
        ("tags.visits", "equals", 3, True),
        ("tags.visits", "equals", "4", False),
        ("entry_event.data.code", "equals", 3, True),
        ("entry_event.data.amount", "equals", 42, True),
        ("entry_event.data.amount", "equals", "42", True),
        ("entry_event.type", "equals", "signup", True),
        ("entry_event.data.items.1", "equals", "b", True),
        ("tags.missing", "equals", "", False),
        ("tags.missing", "equals", None, False),
        # not_equals: a missing field is "not equal" to anything
        ("tags.plan", "not_equals", "free", True),
        ("tags.plan", "not_equals", "pro", False),
        ("tags.visits", "not_equals", "3", False),
        ("entry_event.data.code", "not_equals", 3, False),
        ("country", "not_equals", "US", True),
        ("tags.missing", "not_equals", "pro", True),
        ("entry_event.data.missing", "not_equals", "x", True),
        ("email", "not_equals", "a@example.com", True),
        # contains: substring of a string, member of a list
        ("tags.plan", "contains", "r", True),
        ("tags.plan", "contains", "x", False),
        ("name", "contains", "inj", True),
        ("entry_event.data.plan", "contains", "pr", True),
        ("tags.visits", "contains", "3", True),
        ("tags.labels", "contains", "vip", True),
        ("tags.labels", "contains", "vi", False),
        ("tags.labels", "contains", "gold", False),
        ("entry_event.data.items", "contains", "b", True),
        ("tags.ids", "contains", "3", True),
        ("tags.ids", "contains", 3, True),
        ("tags.ids", "contains", 2, False),
        ("tags.missing", "contains", "a", False),
        # exists: present and not empty
        ("tags.plan", "exists", None, True),
        ("tags.zero", "exists", None, True),
        ("tags.labels", "exists", None, True),
        ("name", "exists", None, True),
        ("entry_event.data.amount", "exists", None, True),
        ("tags.empty", "exists", None, False),
        ("tags.nothing", "exists", None, False),
        ("tags.missing", "exists", None, False),
        ("email", "exists", None, False),
        ("entry_event.data.missing", "exists", None, False),
        ("entry_event.data.items.5", "exists", None, False),
        # greater / less: numbers and numeric strings compare as numbers, anything else is false
        ("tags.visits", "greater", 2, True),
        ("tags.visits", "greater", 3, False),
        ("tags.visits", "greater", "2", True),
        ("tags.visits", "less", "10", True),
        ("tags.visits", "less", 3, False),
        ("tags.score", "greater", 7, True),
        ("tags.score", "less", "10", True),
        ("tags.score", "less", 7.5, False),
        ("entry_event.data.amount", "greater", 40, True),
        ("entry_event.data.amount", "less", 40, False),
        ("entry_event.data.code", "less", "10", True),
        ("tags.plan", "greater", 1, False),
        ("tags.plan", "less", 1, False),
        ("tags.visits", "greater", "abc", False),
        ("tags.visits", "less", "abc", False),
        ("tags.visits", "greater", None, False),
        ("tags.labels", "greater", 0, False),
        ("tags.flag", "greater", 0, False),
        ("tags.empty", "less", 1, False),
        ("tags.missing", "greater", 1, False),
        ("tags.missing", "less", 1, False),
    ],
)
def test_condition_holds(field: str, op: str, value: Any, expected: bool) -> None:
    assert condition_holds({"field": field, "op": op, "value": value}, CONTEXT) is expected


def test_condition_without_entry_event_in_context() -> None:
    context = {"tags": {"plan": "pro"}}
    assert condition_holds({"field": "entry_event.data.plan", "op": "equals", "value": "pro"}, context) is False
    assert condition_holds({"field": "entry_event.data.plan", "op": "not_equals", "value": "pro"}, context) is True
    assert condition_holds({"field": "entry_event.data.plan", "op": "exists"}, context) is False


# --- split_branch ---------------------------------------------------------------------------


def test_split_branch_is_stable_for_a_seed() -> None:
    # sha256 buckets: run-17:ab → 3, run-11:ab → 16, run-15:ab → 32, run-10:ab → 99
    assert split_branch(SPLIT_30_70, seed="run-17:ab") == "a"
    assert split_branch(SPLIT_30_70, seed="run-11:ab") == "a"
    assert split_branch(SPLIT_30_70, seed="run-15:ab") == "b"
    assert split_branch(SPLIT_30_70, seed="run-10:ab") == "b"
    for seed in ("run-17:ab", "run-15:ab", "9f1c2e7a-0000-4000-8000-000000000000:ab"):
        first = split_branch(SPLIT_30_70, seed=seed)
        assert {split_branch(dict(SPLIT_30_70), seed=seed) for _ in range(20)} == {first}


def test_split_branch_distributes_30_70_over_10000_seeds() -> None:
    counts = Counter(split_branch(SPLIT_30_70, seed=f"run-{i}:ab") for i in range(10_000))
    assert set(counts) == {"a", "b"}
    assert 2_800 <= counts["a"] <= 3_200
    assert 6_800 <= counts["b"] <= 7_200


def test_split_branch_with_0_and_100_percent() -> None:
    all_b = {"branches": [{"key": "a", "percent": 0}, {"key": "b", "percent": 100}]}
    all_a = {"branches": [{"key": "a", "percent": 100}, {"key": "b", "percent": 0}]}
    assert {split_branch(all_b, seed=f"s{i}") for i in range(500)} == {"b"}
    assert {split_branch(all_a, seed=f"s{i}") for i in range(500)} == {"a"}


def test_split_branch_three_ways() -> None:
    config = {"branches": [{"key": "a", "percent": 20}, {"key": "b", "percent": 30}, {"key": "c", "percent": 50}]}
    counts = Counter(split_branch(config, seed=f"run-{i}:abc") for i in range(10_000))
    assert 1_800 <= counts["a"] <= 2_200
    assert 2_800 <= counts["b"] <= 3_200
    assert 4_800 <= counts["c"] <= 5_200


def test_split_branch_without_branches() -> None:
    assert split_branch({}, seed="x") == ""


# --- delay_until ----------------------------------------------------------------------------

NOW = dt.datetime(2024, 3, 11, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"minutes": 0}, NOW),
        ({"minutes": 2}, dt.datetime(2024, 3, 11, 1, 2, tzinfo=UTC)),
        ({"minutes": 90}, dt.datetime(2024, 3, 11, 2, 30, tzinfo=UTC)),
        ({"hours": 5}, dt.datetime(2024, 3, 11, 6, 0, tzinfo=UTC)),
        ({"hours": 24}, dt.datetime(2024, 3, 12, 1, 0, tzinfo=UTC)),
        ({"days": 3}, dt.datetime(2024, 3, 14, 1, 0, tzinfo=UTC)),
        ({"minutes": None, "days": 1}, dt.datetime(2024, 3, 12, 1, 0, tzinfo=UTC)),
    ],
)
def test_delay_for_minutes_hours_days(config: dict[str, Any], expected: dt.datetime) -> None:
    assert delay_until(config, now=NOW, time_zone="Asia/Seoul") == expected


def test_a_delay_longer_than_a_year_saved_before_the_bound_waits_a_year() -> None:
    # Such a journey was activated before activation refused it; timedelta(days=1e9) overflows.
    assert delay_until({"days": 1_000_000_000}, now=NOW, time_zone="") == dt.datetime(2025, 3, 11, 1, 0, tzinfo=UTC)


def test_delay_until_nine_in_seoul_from_before_nine_seoul() -> None:
    # 2024-03-10 23:30 UTC is 2024-03-11 08:30 in Seoul (UTC+9): release at 09:00 Seoul that day.
    now = dt.datetime(2024, 3, 10, 23, 30, tzinfo=UTC)
    released = delay_until({"until_time": "09:00"}, now=now, time_zone="Asia/Seoul")
    assert released == dt.datetime(2024, 3, 11, 0, 0, tzinfo=UTC)
    assert released.utcoffset() == dt.timedelta(0)


def test_delay_until_nine_in_seoul_from_after_nine_seoul() -> None:
    # 2024-03-11 01:00 UTC is 10:00 in Seoul: 09:00 has passed, so 09:00 Seoul the next day.
    released = delay_until({"until_time": "09:00"}, now=NOW, time_zone="Asia/Seoul")
    assert released == dt.datetime(2024, 3, 12, 0, 0, tzinfo=UTC)
    assert released.utcoffset() == dt.timedelta(0)


def test_delay_until_a_time_when_utc_and_seoul_dates_differ() -> None:
    # 2024-03-10 16:00 UTC is 2024-03-11 01:00 in Seoul; 09:00 Seoul that day is 00:00 UTC.
    now = dt.datetime(2024, 3, 10, 16, 0, tzinfo=UTC)
    assert delay_until({"until_time": "09:00"}, now=now, time_zone="Asia/Seoul") == dt.datetime(2024, 3, 11, 0, 0, tzinfo=UTC)


def test_delay_until_accepts_now_in_any_zone() -> None:
    now = NOW.astimezone(dt.timezone(dt.timedelta(hours=-5)))
    assert delay_until({"until_time": "09:00"}, now=now, time_zone="Asia/Seoul") == dt.datetime(2024, 3, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("zone", ["", "Mars/Olympus_Mons", "not a zone", "../../etc/passwd", "Asia", "America"])
def test_delay_until_falls_back_to_utc_for_an_unknown_or_empty_zone(zone: str) -> None:
    before = dt.datetime(2024, 3, 11, 8, 15, tzinfo=UTC)
    after = dt.datetime(2024, 3, 11, 9, 30, tzinfo=UTC)
    assert delay_until({"until_time": "09:00"}, now=before, time_zone=zone) == dt.datetime(2024, 3, 11, 9, 0, tzinfo=UTC)
    assert delay_until({"until_time": "09:00"}, now=after, time_zone=zone) == dt.datetime(2024, 3, 12, 9, 0, tzinfo=UTC)


def test_delay_until_takes_until_time_over_amounts() -> None:
    assert delay_until({"until_time": "09:00", "minutes": 5}, now=NOW, time_zone="UTC") == dt.datetime(
        2024, 3, 11, 9, 0, tzinfo=UTC
    )


# --- response_values ------------------------------------------------------------------------

RESPONSE = {
    "coupon": {"code": "C-42", "value": 10, "meta": {"expires": "2024-12-31"}},
    "items": [{"sku": "A"}, {"sku": "B"}],
    "ok": True,
    "none": None,
}


def test_response_values_nested_paths_and_list_indexes() -> None:
    mapping = {
        "coupon.code": "coupon_code",
        "coupon.value": "coupon_value",
        "coupon.meta.expires": "coupon_expires",
        "coupon.meta": "coupon_meta",
        "items.1.sku": "second_sku",
        "items.0": "first_item",
        "ok": "ok",
        "none": "none",
    }
    assert response_values(mapping, RESPONSE) == {
        "coupon_code": "C-42",
        "coupon_value": 10,
        "coupon_expires": "2024-12-31",
        "coupon_meta": {"expires": "2024-12-31"},
        "second_sku": "B",
        "first_item": {"sku": "A"},
        "ok": True,
        "none": None,
    }


def test_response_values_leaves_out_missing_paths() -> None:
    mapping = {
        "coupon.code": "coupon_code",
        "coupon.missing": "a",
        "missing.code": "b",
        "coupon.code.deeper": "c",
        "items.5.sku": "d",
        "items.-1.sku": "e",
        "items.x": "f",
        "": "g",
    }
    assert response_values(mapping, RESPONSE) == {"coupon_code": "C-42"}


@pytest.mark.parametrize("response", [None, "C-42", 42, [{"code": "C-42"}], True])
def test_response_values_of_a_non_object_response(response: Any) -> None:
    assert response_values({"code": "code", "0.code": "first_code", "0": "first"}, response) == {}


def test_response_values_with_no_mapping() -> None:
    assert response_values({}, RESPONSE) == {}
