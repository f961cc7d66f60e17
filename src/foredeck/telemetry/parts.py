"""What the telemetry domain puts on the runtime (see foredeck.kit.runtime)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from foredeck.kit.runtime import Part

if TYPE_CHECKING:
    from foredeck.kit.sse import TopicBatcher
    from foredeck.telemetry.metrics import Metrics
    from foredeck.telemetry.publisher import TelemetryPublisher

# Built with the app (its middleware counts every request into it), else by the start-up.
METRICS: Part[Metrics] = Part("metrics")
TELEMETRY: Part[TelemetryPublisher] = Part("telemetry")
# The SSE fan-out of the telemetry, workers and jobs topics (`/api/v1/telemetry/stream`).
TELEMETRY_BATCHER: Part[TopicBatcher] = Part("telemetry_batcher")
