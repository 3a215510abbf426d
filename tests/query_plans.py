"""Query plans of captured statements on SQLite and PostgreSQL, for tests that a page or a
claim reads its rows through an index rather than the whole table.

PostgreSQL's planner reads a test's small tables whole, whatever the indexes, so its plan is
asked with sequential scans and sorts priced out: what remains tells whether an index can
answer the filter and the order, which is what a million rows would need.
"""

from __future__ import annotations

import re

from django.db import connection

_SORT_NODE = re.compile(r"^\s*(->\s+)?Sort\s+\(")


def query_plan(sql: str) -> list[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            return [row[-1] for row in cursor.fetchall()]
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_sort = off")
        try:
            cursor.execute(f"EXPLAIN {sql}")
            return [row[0] for row in cursor.fetchall()]
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_sort")


def reads_whole_table(plan: list[str], table: str) -> bool:
    if connection.vendor == "sqlite":
        return any(f"{table} " in f"{step} " and "INDEX" not in step for step in plan)
    return any(f"Seq Scan on {table}" in step for step in plan)


def sorts_matching_rows(plan: list[str]) -> bool:
    """A sort of every row the filter matched before the first page (sorting ties on an
    indexed order, SQLite's "RIGHT PART" or PostgreSQL's Incremental Sort, costs a few)."""
    if connection.vendor == "sqlite":
        return "USE TEMP B-TREE FOR ORDER BY" in plan
    return any(_SORT_NODE.match(step) for step in plan)


def combines_indexes(plan: list[str]) -> bool:
    """Rows of an OR found through two indexes (they come out of neither index's order)."""
    if connection.vendor == "sqlite":
        return bool(plan) and plan[0] == "MULTI-INDEX OR"
    return any("BitmapOr" in step for step in plan)


def uses_primary_key(plan: list[str], table: str) -> bool:
    if connection.vendor == "sqlite":
        return plan == [f"SEARCH {table} USING INDEX sqlite_autoindex_{table}_1 (id=?)"]
    indexes = [match.group(1) for step in plan if (match := re.search(r"Index (?:Only )?Scan (?:using|on) (\w+)", step))]
    return indexes == [f"{table}_pkey"] and not reads_whole_table(plan, table)
