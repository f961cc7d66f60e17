from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.settings.fake_google import FakeGoogle


@pytest.fixture(scope="session")
def fake_google() -> Iterator[FakeGoogle]:
    fake = FakeGoogle()
    yield fake
    fake.close()
