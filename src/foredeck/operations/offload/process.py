"""The operations worker process: `python -m foredeck.operations.offload.process`, driven by
pool.py.

It answers calls sent on stdin (length-prefixed pickles of a function of foredeck and its
arguments) on stdout, one at a time, and exits when stdin closes (its server stopped or died).
"""

from __future__ import annotations

import pickle
import signal
import sys
import traceback
from typing import IO, Any

from foredeck.operations.errors import OperationFailed, WorkerError

HEADER = 8
# Only foredeck's own functions may be called (the pipe is private, this is belt and braces).
ALLOWED_PREFIX = "foredeck.operations."


def read_frame(stream: IO[bytes]) -> bytes | None:
    head = stream.read(HEADER)
    if len(head) < HEADER:
        return None
    size = int.from_bytes(head, "big")
    data = stream.read(size)
    if len(data) < size:
        return None
    return data


def write_frame(stream: IO[bytes], data: bytes) -> None:
    stream.write(len(data).to_bytes(HEADER, "big"))
    stream.write(data)
    stream.flush()


def warm() -> None:
    """Load what imports and exports need, so the first one does not wait for it."""
    from foredeck.operations.exports import writer  # noqa: F401
    from foredeck.operations.imports import staging  # noqa: F401


def reset() -> None:
    """Forget whatever the last operation left open (called when a lease ends)."""
    for name in ("foredeck.operations.imports.staging", "foredeck.operations.exports.writer"):
        # Only modules an operation loaded: importing one here would only slow the reset.
        module = sys.modules.get(name)
        if module is not None:
            module.close()


def _answer(payload: bytes) -> tuple[str, Any]:
    try:
        fn, args = pickle.loads(payload)
        if not getattr(fn, "__module__", "").startswith(ALLOWED_PREFIX):
            raise WorkerError(f"refused to call {fn!r}")
        return "ok", fn(*args)
    except OperationFailed as exc:
        return "failed", str(exc)
    except Exception:
        return "error", traceback.format_exc()


def main() -> None:
    # Ctrl-C in a terminal reaches the whole process group: the server decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    calls, answers = sys.stdin.buffer, sys.stdout.buffer
    # Anything a library prints must not land in the answer pipe.
    sys.stdout = sys.stderr
    while (payload := read_frame(calls)) is not None:
        status, value = _answer(payload)
        try:
            data = pickle.dumps((status, value), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            data = pickle.dumps(("error", traceback.format_exc()))
        write_frame(answers, data)


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: exceptions raised by staging and
    # exportfile must be the classes _answer catches.
    from foredeck.operations.offload import process

    process.main()
