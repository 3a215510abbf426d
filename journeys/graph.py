"""A journey's graph: parsing the API/canvas shape, validation, and the pure rules of moving
through it (which edge to follow, whether a condition holds, which split branch). No ORM, no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

NODE_TYPES = ("entry", "delay", "condition", "split", "webhook", "exit")
BRANCHES_BY_TYPE: dict[str, tuple[str, ...]] = {
    "entry": ("",),
    "delay": ("",),
    "condition": ("true", "false"),
    "webhook": ("success", "failure"),
    "exit": (),
}
CONDITION_OPS = ("equals", "not_equals", "contains", "exists", "greater", "less")
REENTRY_POLICIES = ("once", "after_hours", "always")
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
MAX_NODES = 200
# A year: longer is almost always a unit typed wrong (days for minutes), and a date past year
# 9999 cannot even be computed, so such a delay would fail on every advance instead of waiting.
MAX_DELAY_DAYS = 365
MAX_DELAY_AMOUNTS = {"minutes": MAX_DELAY_DAYS * 24 * 60, "hours": MAX_DELAY_DAYS * 24, "days": MAX_DELAY_DAYS}
MAX_DELAY_SECONDS = MAX_DELAY_DAYS * 86400


@dataclass(frozen=True)
class Node:
    key: str
    type: str
    config: Mapping[str, Any] = field(default_factory=dict)
    position: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    branch: str = ""


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def node(self, key: str) -> Node | None:
        return next((node for node in self.nodes if node.key == key), None)

    def entry(self) -> Node | None:
        return next((node for node in self.nodes if node.type == "entry"), None)

    def next_key(self, key: str, branch: str = "") -> str | None:
        """The node after `key` along `branch` ("" for nodes with one way out)."""
        return next((edge.target for edge in self.edges if edge.source == key and edge.branch == branch), None)

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "nodes": [{"key": n.key, "type": n.type, "config": dict(n.config), "position": dict(n.position)} for n in self.nodes],
            "edges": [{"from": e.source, "to": e.target, **({"branch": e.branch} if e.branch else {})} for e in self.edges],
        }


class GraphInvalid(Exception):
    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def parse_graph(nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]]) -> Graph:
    """Read the JSON shape; refuse what cannot even be drawn (unknown types, dangling edges)."""
    problems: list[str] = []
    if len(nodes) > MAX_NODES:
        raise GraphInvalid([f"A journey may have at most {MAX_NODES} nodes."])
    parsed_nodes: list[Node] = []
    seen: set[str] = set()
    for raw in nodes:
        key, kind = str(raw.get("key", "")), str(raw.get("type", ""))
        if not KEY_PATTERN.match(key):
            problems.append(f"Node key '{key[:40]}' must be 1-100 letters, digits, '-' or '_'.")
        if key in seen:
            problems.append(f"Node key '{key}' is used twice.")
        if kind not in NODE_TYPES:
            problems.append(f"Node '{key}' has an unknown type '{kind}' (one of {', '.join(NODE_TYPES)}).")
        seen.add(key)
        config = raw.get("config") or {}
        position = raw.get("position") or {}
        if not isinstance(config, Mapping) or not isinstance(position, Mapping):
            problems.append(f"Node '{key}': config and position must be objects.")
            continue
        parsed_nodes.append(Node(key=key, type=kind, config=dict(config), position=dict(position)))
    parsed_edges: list[Edge] = []
    for raw in edges:
        source, target, branch = str(raw.get("from", "")), str(raw.get("to", "")), str(raw.get("branch") or "")
        if source not in seen or target not in seen:
            problems.append(f"Edge {source} → {target} joins a node that does not exist.")
            continue
        parsed_edges.append(Edge(source=source, target=target, branch=branch))
    if problems:
        raise GraphInvalid(problems)
    return Graph(nodes=tuple(parsed_nodes), edges=tuple(parsed_edges))


def _branches(node: Node) -> tuple[str, ...]:
    if node.type == "split":
        branches = node.config.get("branches")
        return tuple(str(b.get("key", "")) for b in branches if isinstance(b, Mapping)) if isinstance(branches, list) else ()
    return BRANCHES_BY_TYPE.get(node.type, ())


def _config_problems(node: Node, webhook_variables: Mapping[int, Sequence[str]]) -> list[str]:
    config, where = node.config, f"Node '{node.key}'"
    if node.type == "delay":
        amounts = [config.get(unit) for unit in ("minutes", "hours", "days") if config.get(unit) is not None]
        until = config.get("until_time")
        if until is not None:
            if not (isinstance(until, str) and re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", until)):
                return [f"{where}: until_time must be HH:MM (24-hour), in the user's time zone."]
        elif len(amounts) != 1 or not isinstance(amounts[0], int) or isinstance(amounts[0], bool) or amounts[0] < 0:
            return [f"{where}: a delay needs one of minutes, hours or days (a whole number ≥ 0), or until_time."]
        elif any(isinstance(config.get(unit), int) and config[unit] > most for unit, most in MAX_DELAY_AMOUNTS.items()):
            return [
                f"{where}: a delay is at most {MAX_DELAY_DAYS} days ({MAX_DELAY_AMOUNTS['hours']} hours, "
                f"{MAX_DELAY_AMOUNTS['minutes']} minutes); a longer one is most likely a unit typed wrong."
            ]
    elif node.type == "condition":
        if not str(config.get("field", "")).strip():
            return [f"{where}: a condition needs a field (e.g. tags.plan or entry_event.data.amount)."]
        if config.get("op") not in CONDITION_OPS:
            return [f"{where}: op must be one of {', '.join(CONDITION_OPS)}."]
    elif node.type == "split":
        branches = config.get("branches") or []
        if not isinstance(branches, list) or not all(isinstance(b, Mapping) for b in branches):
            return [f"{where}: a split needs at least two branches with distinct keys."]
        keys = [str(b.get("key", "")) for b in branches]
        percents = [b.get("percent") for b in branches]
        if len(keys) < 2 or len(set(keys)) != len(keys) or not all(keys):
            return [f"{where}: a split needs at least two branches with distinct keys."]
        whole = [p for p in percents if isinstance(p, int) and not isinstance(p, bool) and p >= 0]
        if len(whole) != len(percents) or sum(whole) != 100:
            return [f"{where}: split percentages must be whole numbers adding up to 100."]
    elif node.type == "webhook":
        webhook_id = config.get("webhook")
        if not isinstance(webhook_id, int) or webhook_id not in webhook_variables:
            return [f"{where}: pick a webhook of this project."]
        data = config.get("data") or {}
        if not isinstance(data, Mapping):
            return [f"{where}: data must be an object of the webhook's data variables."]
        missing = [name for name in webhook_variables[webhook_id] if not str(data.get(name, "")).strip()]
        if missing:
            return [f"{where}: fill the webhook's data variables: {', '.join(missing)}."]
        mapping = config.get("response_to_tags") or {}
        if not isinstance(mapping, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in mapping.items()
        ):
            return [f"{where}: response mapping goes from a JSON path (e.g. coupon.code) to a tag name."]
    return []


def activation_problems(graph: Graph, *, webhook_variables: Mapping[int, Sequence[str]]) -> list[str]:
    """Everything that must hold before a journey may go live."""
    problems: list[str] = []
    entries = [node for node in graph.nodes if node.type == "entry"]
    if len(entries) != 1:
        problems.append(f"A journey needs exactly one entry node (found {len(entries)}).")
    for node in graph.nodes:
        problems += _config_problems(node, webhook_variables)
        for branch in _branches(node):
            targets = [e for e in graph.edges if e.source == node.key and e.branch == branch]
            label = f" ({branch})" if branch else ""
            if not targets:
                problems.append(f"Node '{node.key}'{label} leads nowhere: connect it (end paths with an exit node).")
            elif len(targets) > 1:
                problems.append(f"Node '{node.key}'{label} has more than one next node.")
        for edge in graph.edges:
            if edge.source == node.key and edge.branch not in _branches(node):
                problems.append(f"Edge from '{node.key}' has a branch '{edge.branch}' that this node does not have.")
    if _has_cycle(graph):
        problems.append("The graph has a loop; journeys move forward only.")
    if len(entries) == 1:
        reachable, frontier = {entries[0].key}, [entries[0].key]
        while frontier:
            key = frontier.pop()
            for edge in graph.edges:
                if edge.source == key and edge.target not in reachable:
                    reachable.add(edge.target)
                    frontier.append(edge.target)
        for node in graph.nodes:
            if node.key not in reachable:
                problems.append(f"Node '{node.key}' cannot be reached from the entry.")
    return problems


def _has_cycle(graph: Graph) -> bool:
    state: dict[str, int] = {}

    def visit(key: str) -> bool:
        state[key] = 1
        for edge in graph.edges:
            if edge.source == key:
                if state.get(edge.target) == 1 or (edge.target not in state and visit(edge.target)):
                    return True
        state[key] = 2
        return False

    return any(node.key not in state and visit(node.key) for node in graph.nodes)


def lookup(path: str, context: Mapping[str, Any]) -> tuple[bool, Any]:
    """Read a dotted path (tags.plan, entry_event.data.amount, email) from the context."""
    value: Any = context
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def condition_holds(config: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    found, value = lookup(str(config.get("field", "")), context)
    op, expected = config.get("op"), config.get("value")
    if op == "exists":
        return found and value not in (None, "")
    if not found:
        return op == "not_equals"
    if op == "equals":
        return value == expected or str(value) == str(expected)
    if op == "not_equals":
        return not (value == expected or str(value) == str(expected))
    if op == "contains":
        if isinstance(value, (list, tuple)):
            return any(item == expected or str(item) == str(expected) for item in value)
        return str(expected) in str(value)
    left, right = _number(value), _number(expected)
    if left is None or right is None:
        return False
    return left > right if op == "greater" else left < right


def split_branch(config: Mapping[str, Any], *, seed: str) -> str:
    """The branch for one run, stable for the same seed (a run is never re-split)."""
    bucket = int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16) % 100
    total = 0
    branches = config.get("branches") or []
    for branch in branches:
        total += int(branch.get("percent", 0))
        if bucket < total:
            return str(branch["key"])
    return str(branches[-1]["key"]) if branches else ""


def response_values(mapping: Mapping[str, str], response: Any) -> dict[str, Any]:
    """Tags to set from a JSON response: {"coupon.code": "coupon_code"} → {"coupon_code": "C-42"}."""
    tags: dict[str, Any] = {}
    for path, tag in mapping.items():
        found, value = lookup(path, response if isinstance(response, Mapping) else {})
        if found:
            tags[tag] = value
    return tags


def delay_until(config: Mapping[str, Any], *, now: Any, time_zone: str) -> Any:
    """When a delay node releases a run that reaches it at `now` (an aware datetime)."""
    import datetime as dt
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    until = config.get("until_time")
    if until:
        try:
            zone = ZoneInfo(time_zone) if time_zone else dt.UTC
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a tz folder name such as "Asia"
            zone = dt.UTC  # an unknown zone on the user falls back to UTC rather than stalling the run
        local = now.astimezone(zone)
        hour, minute = (int(part) for part in str(until).split(":"))
        target = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if target <= local:
            target += dt.timedelta(days=1)
        return target.astimezone(dt.UTC)
    seconds = 60 * int(config.get("minutes") or 0) + 3600 * int(config.get("hours") or 0) + 86400 * int(config.get("days") or 0)
    # Activation refuses longer delays; a journey activated before that rule still moves on
    # after a year rather than failing with OverflowError on every advance.
    return now + dt.timedelta(seconds=min(seconds, MAX_DELAY_SECONDS))
