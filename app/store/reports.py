"""Reports: the figures of the conversations started in a date range, by aggregation.

One pipeline per report: a `$match` on `created_at` (and the assignee, for an agent's own
figures) through the (created_at) and (assignee_id, created_at) indexes, then a `$facet`
that derives every figure from the same matched tickets in one round trip.

Percentiles. MongoDB 7 has `$percentile` and `$median` (approximate, t-digest); the embedded
engine (mongomock) has neither, nor does an older MongoDB. There, each facet returns the
durations, and the percentiles are taken here by nearest rank (the value at rank
ceil(p * n), always a real ticket's figure) after sorting them in Python. That difference is
this module's alone: the services get the same shape from both."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo.errors import OperationFailure

from ..db import Database

DONE = ["resolved", "closed"]
PERCENTILES = (0.5, 0.9)


def nearest_rank(values: list[float], p: float) -> float | None:
    """The p-th percentile of sorted values: the value at rank ceil(p * n), from 1."""
    if not values:
        return None
    return values[max(1, math.ceil(p * len(values))) - 1]


def _scope(start: datetime, end: datetime, assignee_id: ObjectId | None) -> dict:
    match: dict = {"created_at": {"$gte": start, "$lt": end}}
    if assignee_id is not None:
        match = {"assignee_id": assignee_id, **match}  # the (assignee_id, created_at) index
    return match


# Each ticket as the facets need it: durations in milliseconds (None when not reached).
_SHAPE = {"$project": {
    "created_at": 1,
    "assignee_id": 1,
    "first_response_by": 1,
    "rating": "$csat.rating",
    "done": {"$cond": [{"$in": ["$status", DONE]}, 1, 0]},
    "first_response_ms": {"$subtract": ["$first_response_at", "$created_at"]},
    "resolution_ms": {"$cond": [
        {"$in": ["$status", DONE]},
        # resolved_at is cleared on reopening; tickets closed without being resolved first
        # (or before resolved_at existed) have only closed_at
        {"$subtract": [{"$ifNull": ["$resolved_at", "$closed_at"]}, "$created_at"]},
        None,
    ]},
}}


def _durations(field: str, server_percentiles: bool) -> list[dict]:
    reached = {"$match": {field: {"$ne": None}}}
    if server_percentiles:
        return [reached, {"$group": {"_id": None, "count": {"$sum": 1}, "percentiles": {
            "$percentile": {"input": f"${field}", "p": list(PERCENTILES), "method": "approximate"}}}}]
    # sorted here, not by a $sort stage: mongomock's compares BSON in Python, ten times slower
    return [reached, {"$project": {"_id": 0, "v": f"${field}"}}]


def _responders(server_percentiles: bool) -> list[dict]:
    answered = {"$match": {"first_response_by": {"$ne": None}, "first_response_ms": {"$ne": None}}}
    if server_percentiles:
        return [answered, {"$group": {"_id": "$first_response_by", "count": {"$sum": 1}, "median": {
            "$median": {"input": "$first_response_ms", "method": "approximate"}}}}]
    return [answered, {"$group": {"_id": "$first_response_by", "values": {"$push": "$first_response_ms"}}}]


def _responder_rows(rows: list[dict], server_percentiles: bool) -> list[dict]:
    found = []
    for row in rows:
        if server_percentiles:
            count, median = row["count"], row["median"]
        else:
            values = sorted(v for v in row["values"] if v is not None)
            count, median = len(values), nearest_rank(values, 0.5)
        found.append({"agent_id": row["_id"], "count": count, "median_ms": median})
    return found


def _pipeline(match: dict, day_starts: list[datetime], end: datetime,
              server_percentiles: bool) -> list[dict]:
    return [
        {"$match": match},
        _SHAPE,
        {"$facet": {
            # local days as [start, next start) in UTC, made by the caller: correct across
            # daylight-saving changes, and the same on every engine
            "per_day": [{"$bucket": {"groupBy": "$created_at", "boundaries": [*day_starts, end],
                                     "default": "outside", "output": {"count": {"$sum": 1}}}}],
            "first_response": _durations("first_response_ms", server_percentiles),
            "resolution": _durations("resolution_ms", server_percentiles),
            "csat": [{"$match": {"rating": {"$type": "number"}}},
                     {"$group": {"_id": None, "count": {"$sum": 1}, "average": {"$avg": "$rating"}}}],
            "assignees": [{"$match": {"assignee_id": {"$ne": None}}},
                          {"$group": {"_id": "$assignee_id", "assigned": {"$sum": 1},
                                      "resolved": {"$sum": "$done"}}}],
            "responders": _responders(server_percentiles),
        }},
    ]


def _summary(rows: list[dict], server_percentiles: bool) -> dict:
    """{"count", "median_ms", "p90_ms"} from a durations facet."""
    if server_percentiles:
        if not rows:
            return {"count": 0, "median_ms": None, "p90_ms": None}
        median, p90 = rows[0]["percentiles"]
        return {"count": rows[0]["count"], "median_ms": median, "p90_ms": p90}
    values = sorted(row["v"] for row in rows)
    return {"count": len(values), "median_ms": nearest_rank(values, 0.5),
            "p90_ms": nearest_rank(values, 0.9)}


async def conversations(db: Database, *, start: datetime, end: datetime,
                        day_starts: list[datetime], assignee_id: ObjectId | None = None) -> dict:
    """The figures of the tickets created in [start, end) (of one assignee if given):

    - per_day: {day start: tickets created that day} for every day start given;
    - first_response, resolution: {"count", "median_ms", "p90_ms"} over the tickets that
      were answered / are resolved or closed (milliseconds from creation);
    - csat: {"count", "average"} of the tickets rated;
    - assignees: [{"agent_id", "assigned", "resolved"}]: tickets now assigned to each agent,
      and how many of them are resolved or closed;
    - responders: [{"agent_id", "count", "median_ms"}]: the first answers each agent gave
      among these tickets (for an agent's answers to tickets assigned to anyone, see
      first_responders)."""
    match = _scope(start, end, assignee_id)
    server_percentiles = not db.embedded
    try:
        facets = await _run(db, _pipeline(match, day_starts, end, server_percentiles))
    except OperationFailure:
        if not server_percentiles:
            raise
        server_percentiles = False  # a MongoDB before 7.0: no $percentile
        facets = await _run(db, _pipeline(match, day_starts, end, server_percentiles))

    per_day = dict.fromkeys(day_starts, 0)
    for row in facets["per_day"]:
        if row["_id"] in per_day:
            per_day[row["_id"]] = row["count"]
    csat = facets["csat"][0] if facets["csat"] else {"count": 0, "average": None}
    return {
        "per_day": per_day,
        "first_response": _summary(facets["first_response"], server_percentiles),
        "resolution": _summary(facets["resolution"], server_percentiles),
        "csat": {"count": csat["count"], "average": csat["average"]},
        "assignees": [{"agent_id": row["_id"], "assigned": row["assigned"],
                       "resolved": row["resolved"]} for row in facets["assignees"]],
        "responders": _responder_rows(facets["responders"], server_percentiles),
    }


async def first_responders(db: Database, *, start: datetime, end: datetime,
                           agent_id: ObjectId | None = None) -> list[dict]:
    """Per agent who answered first (only this one if given), over the tickets created in
    [start, end) whoever they are assigned to: [{"agent_id", "count", "median_ms"}]."""
    match: dict = {"created_at": {"$gte": start, "$lt": end},
                   "first_response_by": agent_id if agent_id is not None else {"$ne": None}}
    shape = {"$project": {"first_response_by": 1,
                          "first_response_ms": {"$subtract": ["$first_response_at", "$created_at"]}}}
    server_percentiles = not db.embedded
    if server_percentiles:
        try:
            cursor = await db.tickets.aggregate([{"$match": match}, shape, *_responders(True)])
            return _responder_rows(await cursor.to_list(None), True)
        except OperationFailure:
            pass  # a MongoDB before 7.0: no $median
    cursor = await db.tickets.aggregate([{"$match": match}, shape, *_responders(False)])
    return _responder_rows(await cursor.to_list(None), False)


async def _run(db: Database, pipeline: list[dict]) -> dict[str, Any]:
    cursor = await db.tickets.aggregate(pipeline)
    found = await cursor.to_list(1)
    return found[0]


async def backlog(db: Database, *, statuses: tuple[str, ...],
                  assignee_id: ObjectId | None = None) -> dict[str, int]:
    """Tickets in each of these statuses now (of one assignee if given), through the
    (status, ...) and (assignee_id, ...) indexes."""
    match: dict = {"status": {"$in": list(statuses)}}
    if assignee_id is not None:
        match["assignee_id"] = assignee_id
    cursor = await db.tickets.aggregate([
        {"$match": match}, {"$group": {"_id": "$status", "count": {"$sum": 1}}}])
    counts = dict.fromkeys(statuses, 0)
    for row in await cursor.to_list(None):
        counts[row["_id"]] = row["count"]
    return counts
