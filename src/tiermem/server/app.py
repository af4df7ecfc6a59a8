"""The memory API over HTTP: `create_app(memory, keys=...)` returns a FastAPI app.

Every route under ``/v1`` needs an API key (``Authorization: Bearer <key>`` or
``X-API-Key``) and touches only the scopes its key is granted: a request naming
another scope is refused (403), and a record of another scope is answered as
missing (404), so ids cannot be probed. ``/health``, ``/ready`` and ``/metrics``
are for orchestrators and scrapers and hold no memory content.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Iterable
from importlib import resources
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..errors import InvalidInputError, NotFoundError, StoreError, TieredMemoryError
from ..memory import TieredMemory
from ..metrics import MetricsCallback
from ..records import Kind, MemoryRecord
from ..transfer import dump_record, header_line
from .access import ApiKey, KeyRing
from .docs import add_docs
from .schemas import (
    ConsolidateRequest,
    ConsolidationOut,
    ContextOut,
    ContextRequest,
    ForgetOut,
    ForgetRequest,
    HitOut,
    MemoryIn,
    MessagesIn,
    RecordOut,
    SearchRequest,
    UpdateIn,
)

__all__ = ["KEEP_ALIVE_SECONDS", "create_app"]

T = TypeVar("T")
_NOT_FOUND = "no record with this id in your scopes"
_STATIC = resources.files("tiermem.server").joinpath("static")

#: seconds an idle connection stays open: past a load balancer's idle timeout (60 s is
#: common), so a request sent as the server closes an idle connection is not reset
KEEP_ALIVE_SECONDS = 75


class _Service:
    """What the routes share: the memory, the keys and the metrics."""

    def __init__(
        self, memory: TieredMemory, ring: KeyRing, metrics: MetricsCallback, concurrency: int
    ) -> None:
        self.memory = memory
        self.ring = ring
        self.metrics = metrics
        # a few store calls at a time: fifty at once only queue inside LanceDB and retry
        self.slots = asyncio.Semaphore(concurrency)

    async def call(self, work: Awaitable[T]) -> T:
        async with self.slots:
            return await work

    async def owned(self, key: ApiKey, record_id: str) -> MemoryRecord:
        try:
            record = await self.call(self.memory.aget(record_id))
        except (NotFoundError, InvalidInputError):
            raise HTTPException(404, _NOT_FOUND) from None
        if not key.owns(record):
            raise HTTPException(404, _NOT_FOUND)
        return record


def _service(request: Request) -> _Service:
    service: _Service = request.app.state.tiermem
    return service


def _authenticated(
    service: Annotated[_Service, Depends(_service)],
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> ApiKey:
    sent = x_api_key
    if authorization is not None and authorization[:7].lower() == "bearer ":
        sent = authorization[7:].strip()
    key = service.ring.find(sent)
    if key is None:
        raise HTTPException(
            401, "a valid API key is needed", headers={"WWW-Authenticate": "Bearer"}
        )
    return key


Service = Annotated[_Service, Depends(_service)]
Key = Annotated[ApiKey, Depends(_authenticated)]


def _require(key: ApiKey, user_id: str | None, agent_id: str | None,
             session_id: str | None) -> None:  # fmt: skip
    if not key.allows(user_id, agent_id, session_id):
        raise HTTPException(403, "this key may not touch that scope; name a granted "
                                 "user_id, agent_id or session_id")  # fmt: skip


api = APIRouter(prefix="/v1")
operations = APIRouter(tags=["operations"])

# --- the memory API ------------------------------------------------------------------


@api.post("/messages", status_code=201, tags=["memory"])
async def add_messages(body: MessagesIn, key: Key, service: Service) -> list[RecordOut]:
    """Store chat turns of one session (validated together, written together)."""
    _require(key, body.user_id, body.agent_id, body.session_id)
    stored = await service.call(service.memory.aadd_messages(
        [m.model_dump(exclude_none=True) for m in body.messages],
        session_id=body.session_id, user_id=body.user_id, agent_id=body.agent_id,
    ))  # fmt: skip
    return [RecordOut.of(r) for r in stored]


@api.post("/memories", status_code=201, tags=["memory"])
async def remember(body: MemoryIn, key: Key, service: Service) -> RecordOut:
    """Store an explicit long-term memory in a scope."""
    _require(key, body.user_id, body.agent_id, body.session_id)
    record = await service.call(service.memory.aremember(
        body.text, user_id=body.user_id, agent_id=body.agent_id, session_id=body.session_id,
        importance=body.importance, tags=body.tags, metadata=body.metadata,
        expires_at=body.expires_at, ttl=body.ttl_seconds,
    ))  # fmt: skip
    return RecordOut.of(record)


@api.post("/search", tags=["memory"])
async def search(body: SearchRequest, key: Key, service: Service) -> list[HitOut]:
    """Hybrid full-text and vector search within a scope."""
    _require(key, body.user_id, body.agent_id, body.session_id)
    hits = await service.call(service.memory.asearch(
        body.query, k=body.k, user_id=body.user_id, agent_id=body.agent_id,
        session_id=body.session_id, tags=body.tags,
    ))  # fmt: skip
    return [HitOut.of(h) for h in hits]


@api.post("/context", tags=["memory"])
async def context(body: ContextRequest, key: Key, service: Service) -> ContextOut:
    """The best context for a query within a token budget, and why it holds what it holds."""
    _require(key, body.user_id, body.agent_id, body.session_id)
    built = await service.call(service.memory.abuild_context(
        body.query, session_id=body.session_id, user_id=body.user_id, agent_id=body.agent_id,
        max_tokens=body.max_tokens,
    ))  # fmt: skip
    return ContextOut.of(built)


@api.get("/records/{record_id}", tags=["records"])
async def get(record_id: str, key: Key, service: Service) -> RecordOut:
    return RecordOut.of(await service.owned(key, record_id))


@api.patch("/records/{record_id}", tags=["records"])
async def update(record_id: str, body: UpdateIn, key: Key, service: Service) -> RecordOut:
    await service.owned(key, record_id)
    updated = await service.call(service.memory.aupdate(
        record_id, text=body.text, importance=body.importance, tags=body.tags,
        metadata=body.metadata, pinned=body.pinned,
    ))  # fmt: skip
    return RecordOut.of(updated)


@api.delete("/records/{record_id}", status_code=204, tags=["records"])
async def forget(record_id: str, key: Key, service: Service) -> Response:
    await service.owned(key, record_id)
    await service.call(service.memory.aforget(record_id))
    return Response(status_code=204)


@api.post("/forget", tags=["lifecycle"])
async def forget_where(body: ForgetRequest, key: Key, service: Service) -> ForgetOut:
    """Forget a scope's records by rule (older than, tags, kinds); ``dry_run`` first."""
    _require(key, body.user_id, body.agent_id, body.session_id)
    report = await service.call(service.memory.aforget_where(
        user_id=body.user_id, agent_id=body.agent_id, session_id=body.session_id,
        before=body.before, tags=body.tags, kinds=body.kinds, exact=body.exact,
        dry_run=body.dry_run,
    ))  # fmt: skip
    return ForgetOut.of(report)


@api.post("/consolidate", tags=["lifecycle"])
async def consolidate(body: ConsolidateRequest, key: Key, service: Service) -> ConsolidationOut:
    """Merge a scope's explicit memories that say the same thing; ``dry_run`` first."""
    _require(key, body.user_id, body.agent_id, body.session_id)
    report = await service.call(service.memory.aconsolidate(
        user_id=body.user_id, agent_id=body.agent_id, session_id=body.session_id,
        exact=body.exact, text_threshold=body.text_threshold,
        vector_threshold=body.vector_threshold, dry_run=body.dry_run,
    ))  # fmt: skip
    return ConsolidationOut.of(report)


@api.get("/records", tags=["records"])
async def records(
    key: Key,
    service: Service,
    user_id: str | None = None,
    agent_id: str | None = None,
    session_id: str | None = None,
    kind: Annotated[list[Kind] | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> dict[str, Any]:
    """A scope's records, by session then in conversation order, a page at a time."""
    _require(key, user_id, agent_id, session_id)
    found = await service.call(
        service.memory.arecords(
            user_id=user_id, agent_id=agent_id, session_id=session_id, kinds=kind
        )
    )
    page = found[offset : offset + limit]
    return {"total": len(found), "offset": offset, "records": [RecordOut.of(r) for r in page]}


@api.get("/sessions", tags=["records"])
async def sessions(
    key: Key, service: Service, user_id: str | None = None, agent_id: str | None = None
) -> list[dict[str, Any]]:
    """The sessions of a scope with their turn counts, newest first (for browsing)."""
    _require(key, user_id, agent_id, None)
    turns = await service.call(
        service.memory.arecords(user_id=user_id, agent_id=agent_id, kinds=("turn",))
    )
    found: dict[str, dict[str, Any]] = {}
    for turn in turns:
        entry = found.setdefault(
            turn.session_id or "",
            {"session_id": turn.session_id, "turns": 0, "last": turn.timestamp},
        )
        entry["turns"] += 1
        entry["last"] = max(entry["last"], turn.timestamp)
    return sorted(found.values(), key=lambda e: e["last"], reverse=True)


@api.get("/scopes", tags=["records"])
async def scopes(key: Key) -> dict[str, Any]:
    """What this key may touch."""
    granted = [g.model_dump(exclude_none=True) for g in key.scopes]
    return {"name": key.name, "admin": key.admin, "scopes": granted}


@api.get("/stats", tags=["records"])
async def stats(
    key: Key,
    service: Service,
    user_id: str | None = None,
    agent_id: str | None = None,
    session_id: str | None = None,
) -> dict[str, Any]:
    """Record counts per kind in a scope (the whole store for an admin key)."""
    _require(key, user_id, agent_id, session_id)
    found = await service.call(
        service.memory.astats(user_id=user_id, agent_id=agent_id, session_id=session_id)
    )
    # the loaded windows of every session and the process's metrics are no scope's to see
    found.pop("sessions", None)
    found.pop("metrics", None)
    return found


@api.get("/export", tags=["records"])
async def export(
    key: Key,
    service: Service,
    user_id: str | None = None,
    agent_id: str | None = None,
    session_id: str | None = None,
) -> StreamingResponse:
    """A scope's records with their vectors as JSON lines, as `tiermem export` writes them."""
    _require(key, user_id, agent_id, session_id)
    memory = service.memory
    asked = ((user_id, "user_id"), (agent_id, "agent_id"), (session_id, "session_id"))

    async def lines() -> AsyncIterator[str]:
        yield header_line(memory.embedder.name, memory.embedder.dimensions) + "\n"
        async for record, vector in memory.aexport_records():
            if all(value is None or getattr(record, name) == value for value, name in asked):
                yield dump_record(record, vector) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


# --- for orchestrators -----------------------------------------------------------------


@operations.get("/health")
async def health(service: Service) -> JSONResponse:
    """The health report; 503 when failing."""
    found = await service.call(service.memory.ahealth())
    return JSONResponse(found.to_dict(), status_code=503 if found.status == "failing" else 200)


@operations.get("/ready")
async def ready(service: Service) -> JSONResponse:
    """200 once the store answers a read; 503 otherwise."""
    try:
        await service.call(service.memory.astats(session_id="tiermem-ready-probe"))
    except TieredMemoryError:
        return JSONResponse({"ready": False}, status_code=503)
    return JSONResponse({"ready": True})


@operations.get("/metrics", response_class=PlainTextResponse)
async def prometheus(service: Service) -> PlainTextResponse:
    """Counters, latencies and the last health report in the Prometheus text format."""
    text = service.metrics.prometheus()
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")


@operations.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(str(_STATIC.joinpath("index.html")))


# --- the app ---------------------------------------------------------------------------


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    argument = exc.argument if isinstance(exc, InvalidInputError) else None
    return JSONResponse({"detail": str(exc), "argument": argument}, status_code=422)


async def _store_failed(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "the store failed; see /health"}, status_code=503)


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=400)


def create_app(memory: TieredMemory, *, keys: Iterable[ApiKey], concurrency: int = 2) -> FastAPI:
    """An app serving ``memory`` to the holders of ``keys``.

    At most ``concurrency`` calls reach the store at once; the others wait their turn.
    A `MetricsCallback` is attached to ``memory`` for ``/metrics`` unless one is.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidInputError("concurrency", "must be an int of at least 1")
    ring = KeyRing(keys)
    metrics = next((h for h in memory.callbacks if isinstance(h, MetricsCallback)), None)
    if metrics is None:
        metrics = MetricsCallback()
        memory.callbacks.append(metrics)
    app = FastAPI(
        title="tiermem",
        version=__version__,
        description="Tiered memory and token-budgeted context for LLM agents.",
        # FastAPI's own pages load from CDNs; add_docs serves them from this server
        docs_url=None,
        redoc_url=None,
    )
    app.state.tiermem = _Service(memory, ring, metrics, concurrency)
    app.include_router(api)
    app.include_router(operations)
    app.add_exception_handler(InvalidInputError, _invalid)
    app.add_exception_handler(StoreError, _store_failed)
    app.add_exception_handler(TieredMemoryError, _refused)
    app.mount("/static", StaticFiles(directory=str(_STATIC)), name="static")
    add_docs(app)
    return app
