"""What the console's session checks remember about a user, kept here so that a password or
role change (auth.admin, auth.router) makes them forget it without calling the console."""

from __future__ import annotations

from foredeck.auth.service import Principal
from foredeck.kit.cache import Cache

# Answers of recent session checks in this process, keyed "<sid>:<user id>:<app id>"
# (console.session fills it).
local_checks: dict[str, tuple[float, Principal | None]] = {}


def user_key(user_id: int) -> str:
    return f"console:user:{user_id}"


async def forget_user(cache: Cache, user_id: int) -> None:
    """Make this user's sessions be checked again at once (password or role changed)."""
    await cache.delete(user_key(user_id))
    for key in [k for k in local_checks if k.split(":")[1:2] == [str(user_id)]]:
        local_checks.pop(key, None)
