"""tiermem as an OpenAI Agents SDK `Session`: every item stored, whole turns read back.

Thin: items become tiermem turns and back; `TieredMemory` does the rest.
"""

from __future__ import annotations

from .items import record_items, turns_from_items
from .session import TieredContextSession, TieredSession

__all__ = ["TieredContextSession", "TieredSession", "record_items", "turns_from_items"]
