"""The errors of the operations domain, shared by the server and its worker processes.

Only the standard library here: the worker process (offload/process.py) imports it at start-up,
and its answers carry these classes back to the server."""

from __future__ import annotations


class OperationFailed(Exception):
    """The operation cannot go on as asked; the message is safe to show."""


class WorkerError(Exception):
    """An unexpected error in the worker; the message holds its traceback."""


class WorkerGone(WorkerError):
    """The worker process ended in the middle of a call."""


class ImportFailed(Exception):
    """The import stopped and changed nothing; the message is safe to show."""


class ExportFailed(ImportFailed):
    """The export stopped; the message is safe to show."""
