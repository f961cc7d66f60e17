"""Exactly once under a fake clock: two instances, a crash between claim and commit, the
misfire and overlap policies, and DST changes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI

from foredeck.db import transaction
from foredeck.kit.runtime import runtime_of
from foredeck.schedules import firing
from tests.schedules.helpers import (
    T0,
    cancel_jobs,
    fire,
    fires,
    job_count,
    load,
    make_schedule,
    second_instance,
)

GRACE = timedelta(seconds=60)


async def test_two_instances_fire_each_time_exactly_once(app: FastAPI) -> None:
    sid = await make_schedule(app, cron="*/5 * * * *", overlap="queue")
    async with second_instance(app) as other:
        now = T0
        # Two hours in one-minute steps, both instances claiming at every step at once.
        for _ in range(120):
            now += timedelta(minutes=1)
            await asyncio.gather(fire(runtime_of(app), sid, now), fire(other, sid, now))
    rows = await fires(app, sid)
    expected = [T0 + timedelta(minutes=5 * i) for i in range(1, 25)]
    assert [r.fire_at for r in rows] == expected
    assert await job_count(app, sid) == 24
    schedule = await load(app, sid)
    assert schedule.next_fire_at == T0 + timedelta(minutes=125)
    assert schedule.last_job_id == rows[-1].job_id


async def test_a_crash_between_claim_and_commit_loses_and_doubles_nothing(app: FastAPI) -> None:
    sid = await make_schedule(app, interval_seconds=3600)
    due = T0 + timedelta(hours=1)
    before = await load(app, sid)

    class Killed(Exception):
        pass

    with pytest.raises(Killed):
        async with transaction(runtime_of(app).sessionmaker) as session:
            queued = await firing.fire_one(
                session, schedule_id=sid, revision=before.revision, now=due, grace=GRACE
            )
            assert queued == 1
            raise Killed  # the process dies before its commit
    after = await load(app, sid)
    assert (after.next_fire_at, after.revision) == (before.next_fire_at, before.revision)
    assert await fires(app, sid) == []
    # Any instance's next tick fires it, once.
    async with second_instance(app) as other:
        assert await fire(other, sid, due + timedelta(seconds=5)) == 1
    assert await fire(runtime_of(app), sid, due + timedelta(seconds=10)) == 0
    assert [r.fire_at for r in await fires(app, sid)] == [due]


async def test_a_stale_claim_loses_to_the_one_that_committed(app: FastAPI) -> None:
    sid = await make_schedule(app, interval_seconds=600)
    seen = (await load(app, sid)).revision
    due = T0 + timedelta(minutes=10)
    assert await fire(runtime_of(app), sid, due) == 1
    # A process that read the row before that commit claims with the old revision: nothing.
    async with transaction(runtime_of(app).sessionmaker) as session:
        assert (
            await firing.fire_one(session, schedule_id=sid, revision=seen, now=due, grace=GRACE)
            == 0
        )
    assert await job_count(app, sid) == 1


@pytest.mark.parametrize(("policy", "runs"), [("skip", 0), ("run_once", 1), ("catch_up", 3)])
async def test_misfire_after_downtime(app: FastAPI, policy: str, runs: int) -> None:
    sid = await make_schedule(app, cron="0 * * * *", misfire=policy, catch_up_max=3)
    # Down for five and a half hours: five fires missed, none on time.
    back = T0 + timedelta(hours=5, minutes=30)
    assert await fire(runtime_of(app), sid, back) == runs
    assert await fire(runtime_of(app), sid, back + timedelta(seconds=5)) == 0
    schedule = await load(app, sid)
    assert schedule.next_fire_at == T0 + timedelta(hours=6)
    if policy == "skip":
        assert schedule.last_outcome == "skipped_misfire"
    if policy == "catch_up":
        # The latest three missed fires, each its own job.
        assert [r.fire_at for r in await fires(app, sid)] == [
            T0 + timedelta(hours=h) for h in (3, 4, 5)
        ]
    # The next on-time fire is an ordinary one.
    assert await fire(runtime_of(app), sid, T0 + timedelta(hours=6, seconds=3)) == 1


async def test_overlap_skip_while_the_previous_run_holds_its_lock(
    app: FastAPI, main_worker_paused: None
) -> None:
    lock = f"sched{T0.microsecond}{id(app)}"[:40]
    sid = await make_schedule(
        app, kind="test", params={"count": 1, "lock": lock}, interval_seconds=600, overlap="skip"
    )
    try:
        assert await fire(runtime_of(app), sid, T0 + timedelta(minutes=10)) == 1
        assert await fire(runtime_of(app), sid, T0 + timedelta(minutes=20)) == 0
        assert (await load(app, sid)).last_outcome == "skipped_overlap"
        await cancel_jobs(app, sid)
        assert await fire(runtime_of(app), sid, T0 + timedelta(minutes=30)) == 1
        assert await job_count(app, sid) == 2
    finally:
        await cancel_jobs(app, sid)


async def test_overlap_queue_waits_for_the_lock_then_runs(
    app: FastAPI, main_worker_paused: None
) -> None:
    lock = f"schedq{id(app)}"[:40]
    sid = await make_schedule(
        app, kind="test", params={"count": 1, "lock": lock}, interval_seconds=600, overlap="queue"
    )
    try:
        assert await fire(runtime_of(app), sid, T0 + timedelta(minutes=10)) == 1
        assert await fire(runtime_of(app), sid, T0 + timedelta(minutes=20)) == 0
        waiting = await load(app, sid)
        assert (waiting.last_outcome, waiting.pending_runs) == ("waiting", 1)
        # Still held: it keeps waiting, and a second held fire does not owe a second run.
        assert await fire(runtime_of(app), sid, T0 + timedelta(minutes=30)) == 0
        assert (await load(app, sid)).pending_runs == 1
        await cancel_jobs(app, sid)
        assert await fire(runtime_of(app), sid, T0 + timedelta(minutes=30, seconds=5)) == 1
        done = await load(app, sid)
        assert (done.last_outcome, done.pending_runs) == ("queued", 0)
        assert await job_count(app, sid) == 2
    finally:
        await cancel_jobs(app, sid)


async def test_catch_up_of_a_locked_kind_runs_one_at_a_time(
    app: FastAPI, main_worker_paused: None
) -> None:
    lock = f"schedc{id(app)}"[:40]
    sid = await make_schedule(
        app,
        kind="test",
        params={"count": 1, "lock": lock},
        cron="0 * * * *",
        misfire="catch_up",
        catch_up_max=2,
        overlap="skip",
    )
    try:
        back = T0 + timedelta(hours=4, minutes=30)
        assert await fire(runtime_of(app), sid, back) == 1
        assert (await load(app, sid)).pending_runs == 1
        # The owed run waits for the first one's lock, whatever the overlap policy.
        assert await fire(runtime_of(app), sid, back + timedelta(seconds=5)) == 0
        await cancel_jobs(app, sid)
        assert await fire(runtime_of(app), sid, back + timedelta(seconds=10)) == 1
        assert (await load(app, sid)).pending_runs == 0
        assert await job_count(app, sid) == 2
    finally:
        await cancel_jobs(app, sid)


async def test_paused_survives_a_restart_and_resume_counts_from_now(app: FastAPI) -> None:
    from foredeck.schedules import service

    sid = await make_schedule(app, interval_seconds=3600)
    async with transaction(runtime_of(app).sessionmaker) as session:
        await service.set_enabled(
            session, schedule_id=sid, enabled=False, config=runtime_of(app).config
        )
    # A fresh process (new engine) sees it paused and fires nothing.
    async with second_instance(app) as other:
        assert await fire(other, sid, T0 + timedelta(hours=5)) == 0
    assert await fires(app, sid) == []
    resumed_at = T0 + timedelta(hours=5, minutes=10)
    async with transaction(runtime_of(app).sessionmaker) as session:
        schedule = await service.set_enabled(
            session, schedule_id=sid, enabled=True, config=runtime_of(app).config, now=resumed_at
        )
        assert schedule.next_fire_at == resumed_at + timedelta(hours=1)


@pytest.mark.parametrize(
    ("start", "dst_day"),
    [
        # Europe/Berlin springs forward on 2031-03-30 (02:00 -> 03:00) ...
        ((2031, 3, 28), 30),
        # ... and falls back on 2031-10-26 (03:00 -> 02:00, so 02:30 happens twice).
        ((2031, 10, 24), 26),
    ],
)
async def test_a_nightly_cron_across_a_dst_change(
    app: FastAPI, start: tuple[int, int, int], dst_day: int
) -> None:
    from datetime import datetime

    berlin = ZoneInfo("Europe/Berlin")
    t = datetime(*start, 12, 0, tzinfo=berlin)
    sid = await make_schedule(app, now=t, cron="30 2 * * *", timezone="Europe/Berlin")
    # Three days in 15-minute steps.
    for _ in range(3 * 24 * 4):
        t += timedelta(minutes=15)
        await fire(runtime_of(app), sid, t)
    local = [r.fire_at.astimezone(berlin) for r in await fires(app, sid)]
    assert [d.day for d in local] == [start[2] + i for i in range(1, 4)]
    for d in local:
        expected = (3, 0) if (d.month == 3 and d.day == dst_day) else (2, 30)
        assert (d.hour, d.minute) == expected, d


async def test_a_job_the_engine_refuses_is_reported_once_per_fire(app: FastAPI) -> None:
    from sqlalchemy import update

    from foredeck.models.schedules import Schedule

    sid = await make_schedule(app, kind="test", params={"count": 1}, interval_seconds=600)
    # Params that were valid when stored and no longer are (as after a settings change).
    async with transaction(runtime_of(app).sessionmaker) as session:
        await session.execute(
            update(Schedule).where(Schedule.id == sid).values(params={"count": -1})
        )
    assert await fire(runtime_of(app), sid, T0 + timedelta(minutes=10)) == 0
    broken = await load(app, sid)
    assert broken.last_outcome == "error" and "params" in (broken.last_message or "")
    # The fire is used up: the next tick does not retry it, the next fire time is ahead.
    assert broken.next_fire_at == T0 + timedelta(minutes=20)
    assert await fire(runtime_of(app), sid, T0 + timedelta(minutes=10, seconds=5)) == 0
    assert await fires(app, sid) == []
