"""What the index domain puts on the runtime (see foredeck.kit.runtime)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from foredeck.kit.runtime import Part

if TYPE_CHECKING:
    from foredeck.index.manager import IndexManager
    from foredeck.index.model_switch import SwitchStatus

# The live index of this process, provided by the index start-up.
INDEX_MANAGER: Part[IndexManager] = Part("index_manager")
# The model switch in progress in this process, if any (foredeck.index.model_switch).
MODEL_SWITCH: Part[SwitchStatus] = Part("model_switch")
