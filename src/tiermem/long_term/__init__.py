"""The long-term tier: every record in one LanceDB table, sync and async.

The orchestrator describes what it needs as small operations (`Insert`, `Fetch`,
`Search`, ...). Each operation is carried out by one generator, shared by both
clients, that yields the LanceDB calls it needs as small requests (`_Read`,
`_Append`, ...) and is sent their answers: `LanceStore` answers them through
LanceDB's public sync API (`lancedb.connect`, `Table`), `AsyncLanceStore` through
its public async API (`lancedb.connect_async`, `AsyncTable`). Filters, plans and
reading results back are written once, so the two clients cannot drift apart.

Scope filters compare SHA-256 digests of the ids, never the ids themselves: an id
holding quotes or filter syntax cannot widen a search, whatever the SQL parser does.
"""

from __future__ import annotations

import os

# LanceDB's Rust logger reads this once, as its module loads, and prints warnings with
# its own source paths on stderr: a library stays quiet unless its user asks otherwise
os.environ.setdefault("LANCEDB_LOG", "error")

from .async_store import AsyncLanceStore
from .filter import Filter, micros
from .operations import (
    Changes,
    Count,
    Delete,
    Export,
    Fetch,
    Insert,
    Operation,
    Optimize,
    Search,
    Take,
    Upsert,
    Version,
)
from .rows import SCHEMA_VERSION, scope_key, stamp, table_schema
from .store import LanceStore, Loaded, load_all, read_meta
from .tables import store_error, stored_embedder

__all__ = [
    "SCHEMA_VERSION",
    "AsyncLanceStore",
    "Changes",
    "Count",
    "Delete",
    "Export",
    "Fetch",
    "Filter",
    "Insert",
    "LanceStore",
    "Loaded",
    "Operation",
    "Optimize",
    "Search",
    "Take",
    "Upsert",
    "Version",
    "load_all",
    "micros",
    "read_meta",
    "scope_key",
    "stamp",
    "store_error",
    "stored_embedder",
    "table_schema",
]
