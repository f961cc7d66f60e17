"""A logged exception never prints the local variables of its frames (they may hold secrets)."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
from foredeck.logging import configure_logging, get_logger
configure_logging({fmt!r}, "INFO")
log = get_logger("t")

def load(path):
    service_account = {{"private_key": "-----BEGIN PRIVATE KEY-----\\nS3CR3T-KEY-MATERIAL"}}
    raise ValueError("the key file does not parse")

try:
    load("/tmp/x.json")
except ValueError:
    log.exception("credentials_failed")
"""


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_tracebacks_carry_no_locals(fmt: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(fmt=fmt)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    printed = out.stdout + out.stderr
    assert "credentials_failed" in printed and "the key file does not parse" in printed
    assert "Traceback" in printed and "load" in printed
    assert "S3CR3T-KEY-MATERIAL" not in printed and "service_account" not in printed
