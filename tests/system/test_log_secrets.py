"""No log line holds a secret: a logged exception never prints its frames' local variables,
and values are redacted by key name and by shape (PEM keys, bearer tokens, API keys), in
event fields, nested values, stdlib lines and exception text, in console and JSON modes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from foredeck.auth.security import new_api_key
from foredeck.workers.outcomes import error_summary, traceback_summary

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


REDACT_SCRIPT = """
import logging, os
from foredeck.logging import configure_logging, get_logger
configure_logging({fmt!r}, "INFO")
log = get_logger("t")
pem = os.environ["PEM"]
api_key = os.environ["API_KEY"]
log.info(
    "service_account_loaded",
    service_account={{"client_email": "importer@example.test", "private_key": pem}},
    request={{"headers": [{{"Authorization": "Bearer " + api_key}}], "password": "hunter2-pw"}},
    token_count=7,
)
log.info("key text " + pem)
log.info("client used " + api_key)
logging.getLogger("lib").warning("stdlib line %s", pem)
try:
    raise ValueError("cannot parse " + pem)
except ValueError:
    log.exception("parse_failed")
"""


def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_secrets_are_redacted_by_key_and_by_shape(fmt: str) -> None:
    pem = private_key_pem()
    api_key = new_api_key().secret
    out = subprocess.run(
        [sys.executable, "-c", REDACT_SCRIPT.format(fmt=fmt)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PEM": pem, "API_KEY": api_key},
    )
    printed = out.stdout + out.stderr
    lines = [line for line in printed.splitlines() if line.strip()]
    for event in ("service_account_loaded", "key text", "client used", "stdlib line"):
        assert any(event in line for line in lines), (event, printed)
    assert "parse_failed" in printed and "Traceback" in printed
    # Kept: what is not secret, so the line still says what happened.
    assert "importer@example.test" in printed and "7" in printed
    assert api_key.split("_")[1] in printed  # the public prefix
    # Gone: every line of the key's body, the API key's secret part, the password.
    body = [line for line in pem.splitlines() if "-----" not in line]
    leaked = [line for line in body if line in printed or line.replace("\n", "") in printed]
    assert not leaked, printed
    assert api_key not in printed and api_key.split("_", 2)[2] not in printed
    assert "hunter2-pw" not in printed
    assert printed.count("[REDACTED]") >= 6, printed
    if fmt == "json":
        records = [json.loads(line) for line in lines]
        loaded = next(r for r in records if r["event"] == "service_account_loaded")
        assert loaded["service_account"] == {
            "client_email": "importer@example.test",
            "private_key": "[REDACTED]",
        }
        assert loaded["request"]["password"] == "[REDACTED]"
        assert loaded["token_count"] == 7


def test_job_errors_carry_no_secret_shapes() -> None:
    """A failed job's `error` and `error_traceback` are shown in responses and the console."""
    pem = private_key_pem()
    api_key = new_api_key().secret
    try:
        raise RuntimeError(f"token exchange failed with {pem} and Bearer {api_key}")
    except RuntimeError as exc:
        error, tb = error_summary(exc), traceback_summary(exc)
    for text in (error, tb):
        assert text.count("[REDACTED]") >= 2, text
        assert pem.splitlines()[1] not in text and api_key not in text
    assert error.startswith("RuntimeError: token exchange failed")
    assert "Traceback" in tb and "test_job_errors_carry_no_secret_shapes" in tb
