"""Two users behind one session id, one of them hostile: what the MCP tests store."""

from __future__ import annotations

from tiermem import TieredMemory

#: a hostile id next to a plain one, and one session id the two share
USERS = ("u1", "u1' OR '1'='1")
SESSION = "s1"


def fill(mem: TieredMemory) -> None:
    """Each user: a few turns in the shared session id, and one memory."""
    for user, city, pet in ((USERS[0], "Lisbon", "cat Miso"), (USERS[1], "Oslo", "dog Rex")):
        mem.add_message("user", f"I moved to {city} in May.", session_id=SESSION, user_id=user)
        mem.add_message("assistant", f"{city} is lovely!", session_id=SESSION, user_id=user)
        mem.remember(f"Has a {pet}", user_id=user, importance=0.9, tags=["pet"])
