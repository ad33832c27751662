"""The HTTP API's parameters with their bounds: store ids, durations and points in time.

Every route reads ids, durations and times through these, so a value out of range answers 400 or
422 naming the parameter and the accepted range, instead of overflowing somewhere deeper (Python's
datetime, SQLite's 64-bit integers, PostgreSQL's BIGINT).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import HTTPException, Path, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ConfigDict

from agent.configfile import parse_duration

MAX_STORE_ID = 2**63 - 1  # ids are SQLite INTEGER / PostgreSQL BIGINT columns
# Times the API accepts; far wider than any data, narrow enough that adding a step or a time zone
# offset to them stays inside Python's datetime.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
MAX_DURATION = timedelta(days=100 * 366)

# JSON bodies: unknown fields are mistakes, and NaN or ±Infinity (which Python's JSON parser accepts
# though JSON has no such numbers) are not values any field can take.
BODY_CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False)

StoreId = Annotated[int, Path(ge=1, le=MAX_STORE_ID, description=f"an id in the store, 1..{MAX_STORE_ID}")]


def parse_duration_param(name: str, value: str, minimum: timedelta = timedelta(0),
                         maximum: timedelta = MAX_DURATION) -> timedelta:
    """``30s``, ``5m``, ``7d`` … within [minimum, maximum]; HTTP 400 naming ``name`` otherwise."""
    try:
        seconds = parse_duration(value)
    except ValueError as e:
        raise HTTPException(400, f"{name}: {e}") from None
    if not math.isfinite(seconds) or not minimum.total_seconds() <= seconds <= maximum.total_seconds():
        raise HTTPException(400, f"{name}: {value!r} is out of range; give a duration from {_span(minimum)} "
                                 f"to {_span(maximum)}, such as 7d")
    return timedelta(seconds=seconds)


def parse_time(value: str | None, now: datetime, default: datetime | None = None, name: str = "time") -> datetime:
    """``7d`` (that long ago), ``now`` or an ISO 8601 timestamp, between 1900 and 3000."""
    if value is None or value == "":
        if default is None:
            raise HTTPException(400, f"{name}: a time is required")
        return default
    if value == "now":
        return now
    try:
        parse_duration(value)
    except ValueError:
        when = _iso_time(name, value)
    else:
        when = now - parse_duration_param(name, value, maximum=now - EARLIEST)
    if not EARLIEST <= when < LATEST:
        raise _outside_time_range(name, value)
    return when


def _iso_time(name: str, value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{name}: cannot read time {value!r}: use a duration such as 7d "
                                 "or an ISO 8601 time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 and 9999-12-31T23:59-14:00 leave datetime's range in UTC
        raise _outside_time_range(name, value) from None


def _outside_time_range(name: str, value: str) -> HTTPException:
    return HTTPException(400, f"{name}: {value!r} is outside the times the store can hold; give a time "
                              f"from {EARLIEST.date()} to before {LATEST.date()}")


def _span(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    return f"{seconds / 86400:.0f}d" if seconds >= 86400 else f"{seconds:g}s"


async def validation_error_response(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 answer, able to quote inputs JSON cannot carry (NaN, ±Infinity) as text."""
    return JSONResponse(status_code=422, content={"detail": _quotable(jsonable_encoder(exc.errors()))})


def _quotable(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _quotable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_quotable(v) for v in value]
    return value
