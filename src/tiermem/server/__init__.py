"""tiermem over HTTP: ``pip install "tiermem[server]"``, then ``tiermem serve``.

`create_app(memory, keys=[ApiKey(...)])` returns a FastAPI app: the memory API
under ``/v1`` (each API key bound to the scopes it may touch), ``/health``,
``/ready``, ``/metrics`` and, at ``/``, a page to look inside the memory.
"""

from __future__ import annotations

try:
    import fastapi  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("tiermem.server needs FastAPI: pip install 'tiermem[server]'") from exc

from .access import ApiKey, Grant, load_keys, new_key
from .app import KEEP_ALIVE_SECONDS, create_app

__all__ = ["KEEP_ALIVE_SECONDS", "ApiKey", "Grant", "create_app", "load_keys", "new_key"]
