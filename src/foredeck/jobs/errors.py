"""Signals a handler's context raises to stop the handler at a check point."""

from __future__ import annotations


class JobStop(Exception):
    """Base of the exceptions that end a handler without it having failed."""


class JobCancelled(JobStop):
    """The job was cancelled; the handler should stop (cleanup in `finally` is fine)."""


class JobInterrupted(JobStop):
    """The worker is shutting down; the job is requeued and resumes from its checkpoint."""


class JobLost(JobStop):
    """This runner's fencing token is stale: another attempt owns the job now."""


class JobTimeLimit(Exception):
    """An attempt ran past its kind's time limit: it fails at once, with no retry."""
