"""When a schedule fires: cron expressions (by cronsim, in the schedule's time zone) or intervals.

Cron times are computed in the schedule's own zone and stored in UTC, so "02:30 every night" in
Europe/Berlin stays 02:30 local across DST changes: on the spring-forward night, when 02:30 does
not exist, cronsim fires at 03:00; on the fall-back night, when it exists twice, it fires once.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from foredeck.errors import ValidationFailed

# Fires looked at to measure a cron's shortest gap (enough to see a pattern within an hour).
GAP_SAMPLE = 120


def zone(name: str) -> ZoneInfo:
    """The IANA time zone, or 422 naming the field."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValidationFailed.field("timezone", f"Unknown time zone {name!r}") from exc


def _cron_iter(expr: str, start: datetime, tz: ZoneInfo) -> CronSim:
    return CronSim(expr, start.astimezone(tz))


def next_cron(expr: str, tz: ZoneInfo, after: datetime) -> datetime | None:
    """The first fire strictly after `after` (UTC), or None when the expression never fires."""
    try:
        return next(_cron_iter(expr, after, tz)).astimezone(UTC)
    except StopIteration:
        return None


def check_cron(expr: str, tz: ZoneInfo, *, now: datetime, min_gap_seconds: int) -> datetime:
    """Validate a cron expression; its first fire after now. 422 naming `cron` when it is
    malformed, never fires, or fires more often than every `min_gap_seconds`."""
    try:
        it = _cron_iter(expr, now, tz)
    except CronSimError as exc:
        raise ValidationFailed.field("cron", f"Not a valid cron expression: {exc}") from exc
    times = [t.astimezone(UTC) for t in itertools.islice(it, GAP_SAMPLE)]
    if not times:
        raise ValidationFailed.field("cron", "This cron expression never fires")
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    if gaps and min(gaps) < min_gap_seconds:
        raise ValidationFailed.field(
            "cron",
            f"This cron expression fires every {min(gaps):g} s; the shortest gap allowed is "
            f"{min_gap_seconds} s (FOREDECK_SCHEDULE_MIN_INTERVAL_SECONDS)",
        )
    return times[0]


def due_fires(
    *,
    cron: str | None,
    interval_seconds: int | None,
    tz: ZoneInfo,
    first: datetime,
    now: datetime,
    limit: int,
) -> tuple[list[datetime], int, datetime | None]:
    """(the last `limit` fire times from `first` up to now, how many were due in all, the next
    fire after now). Bounded: a schedule down for a year is not walked minute by minute."""
    fires: list[datetime] = []
    count = 0
    t: datetime | None = first
    if interval_seconds is not None and cron is None:
        # Intervals are arithmetic: count them instead of stepping.
        count = int((now - first).total_seconds() // interval_seconds) + 1
        start = max(0, count - limit)
        fires = [first + timedelta(seconds=i * interval_seconds) for i in range(start, count)]
        return fires, count, first + timedelta(seconds=count * interval_seconds)
    assert cron is not None
    steps = 0
    while t is not None and t <= now:
        count += 1
        fires.append(t)
        if len(fires) > limit:
            fires.pop(0)
        steps += 1
        if steps >= 10_000:
            # Past ten thousand missed fires, jump straight to now.
            t = next_cron(cron, tz, now)
            break
        t = next_cron(cron, tz, t)
    return fires, count, t
