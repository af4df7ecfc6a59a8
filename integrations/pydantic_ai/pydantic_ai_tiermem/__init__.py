"""tiermem for pydantic-ai: a history processor that sends the budgeted context.

Thin: messages become tiermem turns and back; `TieredMemory` does the rest.
"""

from __future__ import annotations

from .history import TieredHistory
from .messages import records_to_messages, turns_of

__all__ = ["TieredHistory", "records_to_messages", "turns_of"]
