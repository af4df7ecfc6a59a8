"""The `tiermem` command line: ingest, search, build contexts, inspect and move a store."""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from .errors import InvalidInputError, TieredMemoryError

if TYPE_CHECKING:
    # the store, its models and rich's tables load inside the commands that use them:
    # `tiermem --help` stays fast
    from rich.progress import Progress
    from rich.table import Table

    from .context import Context, Decision
    from .memory import TieredMemory
    from .messages import ChatMessage
    from .records import MemoryRecord, ScoreParts, SearchHit
    from .transfer import Batch

app = typer.Typer(
    name="tiermem",
    help="Tiered memory and token-budgeted context for LLM agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain help: rich's markdown renderer alone doubled the cost of `tiermem --help`
    rich_markup_mode=None,
)
console = Console()
err_console = Console(stderr=True)


def _print_version(asked: bool) -> None:
    if asked:
        from . import __version__

        typer.echo(f"tiermem {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """Tiered memory and token-budgeted context for LLM agents."""


# --- shared options ------------------------------------------------------------------

Store = Annotated[str, typer.Option("--store", help="LanceDB folder or URI (memory://, s3://...)")]
User = Annotated[str | None, typer.Option("--user", help="user scope (user_id)")]
Agent = Annotated[str | None, typer.Option("--agent", help="agent scope (agent_id)")]
Tokenizer = Annotated[
    str | None, typer.Option("--tokenizer", help="tiktoken encoding or model, e.g. cl100k_base")
]
ConfigFile = Annotated[
    Path | None, typer.Option("--config", help="TOML file with a \\[tiermem] table")
]
EmbedderName = Annotated[
    str | None,
    typer.Option(
        "--embedder",
        help="for a new store: 'static' (default) or 'hashing'; an existing store uses its own",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="machine-readable JSON on stdout")]
ShowProgress = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress",
        help="a progress bar on stderr (default: when stderr is a terminal, without --json)",
    ),
]
DEFAULT_STORE = "./tiermem-store"


def _fail(message: str) -> NoReturn:
    err_console.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


@contextmanager
def _handled() -> Iterator[None]:
    """User mistakes print one line on stderr and exit 1, never a traceback."""
    try:
        yield
    except TieredMemoryError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc))
    except UnicodeDecodeError as exc:
        _fail(f"the input is not UTF-8 text ({exc.reason})")


def _open(
    store: str,
    tokenizer: str | None,
    config_file: Path | None,
    embedder: str | None = None,
    *,
    create: bool = False,
) -> TieredMemory:
    from .config import MemoryConfig
    from .memory import TieredMemory
    from .transfer import embedder_for, stored_embedder

    config = MemoryConfig.from_file(config_file) if config_file else MemoryConfig()
    if tokenizer is not None:
        config = MemoryConfig.from_mapping({**config.model_dump(), "tokenizer": tokenizer})
    if "://" not in store and not Path(store).is_dir() and not create:
        raise InvalidInputError(
            "--store", f"no store at {store}; create one with `tiermem ingest` or `tiermem import`"
        )
    stored = stored_embedder(store)
    chosen = embedder_for(embedder) if embedder is not None else None
    if stored is not None:
        if chosen is not None and chosen.name != stored:
            raise InvalidInputError("--embedder", f"the store at {store} uses {stored!r}")
        chosen = embedder_for(stored)  # an existing store is always read with its own
    return TieredMemory(store, config=config, embedder=chosen)


def _progress(json_output: bool, asked: bool | None) -> Progress:
    """A bar on stderr, only where a person watches: never frames in logs or pipes."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    show = asked if asked is not None else not json_output and err_console.is_terminal
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=err_console, transient=err_console.is_terminal,
        disable=not show,
    )  # fmt: skip


def _emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    return Path(path).read_text(encoding="utf-8")


# --- demo ----------------------------------------------------------------------------

_DEMO_QUESTION = "What allowed lateness did we discuss for the late Antwerp events?"


def load_sample() -> dict[str, Any]:
    """The demo conversation shipped in the package (written for tiermem, CC0)."""
    text = resources.files("tiermem").joinpath("data/sample_conversation.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@app.command()
def demo(
    store: Annotated[
        Path | None,
        typer.Option(help="LanceDB folder to write and keep (default: a temporary one, removed)"),
    ] = None,
    query: Annotated[str, typer.Option(help="What to build the context for")] = _DEMO_QUESTION,
    max_tokens: Annotated[int, typer.Option(help="Token budget of the context")] = 300,
) -> None:
    """Ingest a sample conversation, then print a budgeted context and its explanation."""
    sample = load_sample()
    if store is not None:
        _demo(sample, store, query, max_tokens, kept=True)
        return
    # a store nobody asked to keep is removed when the demo ends
    with tempfile.TemporaryDirectory(prefix="tiermem-demo-") as folder:
        _demo(sample, Path(folder), query, max_tokens, kept=False)


def _demo(sample: dict[str, Any], folder: Path, query: str, max_tokens: int, *, kept: bool) -> None:
    from .config import MemoryConfig
    from .memory import TieredMemory

    config = MemoryConfig(tokenizer="cl100k_base", short_term={"max_tokens": 250})
    user = sample["user_id"]
    with _handled(), TieredMemory(folder, config=config) as mem:
        started = time.perf_counter()
        turns = 0
        for session in sample["sessions"]:
            when = datetime.fromisoformat(session["start"])
            for i, turn in enumerate(session["turns"]):
                mem.add_message(
                    turn["role"], turn["content"], session_id=session["session_id"],
                    user_id=user, timestamp=when + timedelta(minutes=i),
                )  # fmt: skip
                turns += 1
        elapsed = time.perf_counter() - started
        mem.remember("Maya is vegetarian and allergic to peanuts.", user_id=user,
                     importance=0.9, tags=["health"])  # fmt: skip
        last = sample["sessions"][-1]["session_id"]
        context = mem.build_context(query, session_id=last, user_id=user, max_tokens=max_tokens)
    where = (
        escape(str(folder)) if kept else "a temporary store (removed at exit; --store keeps one)"
    )
    console.print(f"[bold]Stored[/] {turns} turns in {where} ({turns / elapsed:.0f} turns/s)")
    console.print(f"[bold]Question:[/] {query}\n")
    _print_messages(console, context.messages)
    console.print()
    console.print(context.explain(), highlight=False, markup=False, soft_wrap=True)


# --- ingest ----------------------------------------------------------------------------


@app.command()
def ingest(
    file: Annotated[str, typer.Argument(help="JSONL of messages, or LoCoMo JSON; '-' for stdin")],
    store: Store = DEFAULT_STORE,
    session: Annotated[
        str, typer.Option("--session", help="session of JSONL lines that name none")
    ] = "default",
    user: Annotated[str | None, typer.Option("--user", help="user of lines that name none")] = None,
    agent: Annotated[
        str | None,
        typer.Option("--agent", help="agent of lines that name none, and of LoCoMo turns"),
    ] = None,
    tokenizer: Tokenizer = None,
    config: ConfigFile = None,
    embedder: EmbedderName = None,
    json_output: Json = False,
    show_progress: ShowProgress = None,
) -> None:
    """Store conversations: JSON lines {role, content, session_id?, user_id?, agent_id?,
    timestamp?, metadata?}, or LoCoMo JSON (user = sample_id, session = session_N)."""
    from .transfer import read_conversations

    with _handled():
        kind, batches = read_conversations(
            _read_text(file), session_id=session, user_id=user, agent_id=agent
        )
        total = sum(len(b.messages) for b in batches)
        progress = _progress(json_output, show_progress)
        with _open(store, tokenizer, config, embedder, create=True) as mem:
            started = time.perf_counter()
            seen = _StoredTurns(mem)
            skipped = 0
            with progress:
                task = progress.add_task("ingesting", total=total)
                stored = 0
                for batch in batches:
                    fresh = seen.unstored(batch)
                    skipped += len(batch.messages) - len(fresh.messages)
                    if fresh.messages:
                        _store_batch(mem, fresh, stored)
                    stored += len(fresh.messages)
                    progress.advance(task, len(batch.messages))
            elapsed = max(time.perf_counter() - started, 1e-9)
    sessions = len({(b.user_id, b.agent_id, b.session_id) for b in batches})
    if json_output:
        rate = round(total / elapsed)
        _emit_json({"store": store, "format": kind, "messages": total, "sessions": sessions,
                    "skipped": skipped, "seconds": round(elapsed, 3),
                    "messages_per_second": rate})  # fmt: skip
        return
    again = f", {skipped:,} already stored" if skipped else ""
    console.print(
        f"Ingested {total:,} messages ({kind}, {sessions:,} sessions{again}) into "
        f"{escape(store)} in {elapsed:.2f} s: [bold]{total / elapsed:,.0f} messages/s[/]",
        highlight=False,
        soft_wrap=True,
    )


class _StoredTurns:
    """What an earlier ingest of the same file already stored, so a re-run adds the rest.

    Each (user, agent, session) of the file is compared, in order, with the turns that
    owner already has: the longest run that matches by role and content is skipped.
    """

    def __init__(self, mem: TieredMemory) -> None:
        self._mem = mem
        self._left: dict[tuple[str | None, str | None, str], list[tuple[Any, Any]]] = {}

    def unstored(self, batch: Batch) -> Batch:
        owner = (batch.user_id, batch.agent_id, batch.session_id)
        left = self._left.get(owner)
        if left is None:
            turns = self._mem.records(user_id=owner[0], agent_id=owner[1], session_id=owner[2],
                                      kinds=["turn"], exact=True)  # fmt: skip
            left = self._left[owner] = [(t.role, t.text) for t in reversed(turns)]
        fresh = dataclasses.replace(batch, messages=[], sources=[])
        for message, source in zip(batch.messages, batch.sources, strict=True):
            if left and left[-1] == (message.get("role"), message.get("content")):
                left.pop()
                continue
            left.clear()  # the file and the store part ways: store the rest as it comes
            fresh.messages.append(message)
            fresh.sources.append(source)
        return fresh


def _store_batch(mem: TieredMemory, batch: Batch, stored: int) -> None:
    try:
        mem.add_messages(
            batch.messages, session_id=batch.session_id, user_id=batch.user_id,
            agent_id=batch.agent_id,
        )  # fmt: skip
    except InvalidInputError as exc:
        # "messages[3].content" -> the line or turn the user can find in their file
        index, _, field = exc.argument.removeprefix("messages[").partition("]")
        source = batch.sources[int(index)] if index.isdigit() else batch.sources[0]
        field = field.removeprefix(".") or exc.argument
        note = f" ({stored:,} messages before it were stored)" if stored else ""
        raise InvalidInputError(source, f"{field}: {exc.rule}{note}") from None


# --- search and context ---------------------------------------------------------------------


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="what to look for")],
    k: Annotated[int, typer.Option("-k", "--k", help="how many hits")] = 5,
    store: Store = DEFAULT_STORE,
    user: User = None,
    agent: Agent = None,
    session: Annotated[str | None, typer.Option("--session", help="session scope")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="only records with this tag (repeatable)")
    ] = None,
    tokenizer: Tokenizer = None,
    config: ConfigFile = None,
    json_output: Json = False,
) -> None:
    """Hybrid (full-text and vector) search of the long-term store, within a scope."""
    with _handled(), _open(store, tokenizer, config) as mem:
        hits = mem.search(query, k=k, user_id=user, agent_id=agent, session_id=session, tags=tag)
    if json_output:
        _emit_json([_hit_json(h) for h in hits])
    elif not hits:
        console.print("no hits", style="dim")
    else:
        # without --user the hits may be anyone's: say whose each one is
        console.print(_hits_table(hits, whose=user is None))


@app.command()
def context(
    query: Annotated[
        str | None, typer.Argument(help="what the context is for (default: the last user turn)")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", help="token budget (default: from the config)")
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="also show every candidate and why")
    ] = False,
    store: Store = DEFAULT_STORE,
    session: Annotated[str, typer.Option("--session", help="the session")] = "default",
    user: User = None,
    agent: Agent = None,
    tokenizer: Tokenizer = None,
    config: ConfigFile = None,
    json_output: Json = False,
) -> None:
    """Build the best context for QUERY that fits the token budget, and print it."""
    with _handled(), _open(store, tokenizer, config) as mem:
        built = mem.build_context(
            query, session_id=session, user_id=user, agent_id=agent, max_tokens=max_tokens
        )
        tokenizer_name = mem.token_counter.name
    if json_output:
        _emit_json(_context_json(built, tokenizer_name))
        return
    console.print(
        f"[bold]context:[/] {built.token_count}/{built.max_tokens} tokens ({tokenizer_name}), "
        f"{len(built.kept)} kept, {len(built.left_out)} left out\n",
        highlight=False,
        soft_wrap=True,
    )
    _print_messages(console, built.messages)
    if explain:
        console.print()
        console.print(_explain_table(built))
        console.print(_PARTS_LEGEND, style="dim", highlight=False)


# --- lifecycle -------------------------------------------------------------------------

Session = Annotated[str | None, typer.Option("--session", help="session scope")]
Tags = Annotated[list[str] | None, typer.Option("--tag", help="a tag (repeatable)")]


def _moment(option: str, value: str | None) -> datetime | None:
    """An ISO 8601 date or time (no offset means UTC)."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        rule = f"must be an ISO 8601 date or time, got {value!r}"
        raise InvalidInputError(option, rule) from None


@app.command()
def remember(
    text: Annotated[str, typer.Argument(help="the fact or preference to keep")],
    store: Store = DEFAULT_STORE,
    user: User = None,
    agent: Agent = None,
    session: Session = None,
    importance: Annotated[float, typer.Option("--importance", help="0 to 1")] = 0.5,
    tag: Tags = None,
    ttl: Annotated[
        float | None, typer.Option("--ttl", help="seconds until it expires (default: never)")
    ] = None,
    expires_at: Annotated[
        str | None, typer.Option("--expires-at", help="ISO 8601 time it expires (UTC if no offset)")
    ] = None,
    tokenizer: Tokenizer = None,
    config: ConfigFile = None,
    embedder: EmbedderName = None,
    json_output: Json = False,
) -> None:
    """Store an explicit memory in a scope (the same text again is merged, not repeated)."""
    with _handled(), _open(store, tokenizer, config, embedder, create=True) as mem:
        record = mem.remember(
            text, user_id=user, agent_id=agent, session_id=session, importance=importance,
            tags=tag or (), ttl=ttl, expires_at=_moment("--expires-at", expires_at),
        )  # fmt: skip
    if json_output:
        _emit_json(_record_json(record))
    else:
        console.print(f"remembered {record.id}", highlight=False)


@app.command()
def forget(
    store: Store = DEFAULT_STORE,
    user: User = None,
    agent: Agent = None,
    session: Session = None,
    before: Annotated[
        str | None, typer.Option("--before", help="only records older than this ISO 8601 time")
    ] = None,
    tag: Tags = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="turn, memory or summary (repeatable)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="only report what would be forgotten")
    ] = False,
    tokenizer: Tokenizer = None,
    config: ConfigFile = None,
    json_output: Json = False,
) -> None:
    """Forget the records of a scope (--user, --agent or --session) matching every rule given."""
    with _handled(), _open(store, tokenizer, config) as mem:
        report = mem.forget_where(
            user_id=user, agent_id=agent, session_id=session, before=_moment("--before", before),
            tags=tag, kinds=kind, dry_run=dry_run,
        )  # fmt: skip
    data = {"dry_run": report.dry_run, "total": report.total, "counts": dict(report.counts),
            "ids": list(report.ids)}  # fmt: skip
    if json_output:
        _emit_json(data)
        return
    counts = ", ".join(f"{n} {kind}" for kind, n in report.counts.items())
    verb = "would forget" if dry_run else "forgot"
    console.print(f"{verb} {report.total} records ({counts})", highlight=False)


@app.command("list")
def list_(
    store: Store = DEFAULT_STORE,
    user: User = None,
    agent: Agent = None,
    session: Session = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="turn, memory or summary (repeatable)")
    ] = None,
    tag: Tags = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="records per page")] = 20,
    offset: Annotated[int, typer.Option("--offset", min=0, help="records to skip")] = 0,
    tokenizer: Tokenizer = None,
    config: ConfigFile = None,
    json_output: Json = False,
) -> None:
    """The records of a scope, by session then in conversation order, a page at a time."""
    with _handled(), _open(store, tokenizer, config) as mem:
        found = mem.records(user_id=user, agent_id=agent, session_id=session, kinds=kind, tags=tag)
    page = found[offset : offset + limit]
    following = offset + limit if offset + limit < len(found) else None
    if json_output:
        records = [_record_json(r) for r in page]
        _emit_json({"total": len(found), "offset": offset, "limit": limit,
                    "next_offset": following, "records": records})  # fmt: skip
        return
    if not page:
        console.print("no records", style="dim")
        return
    console.print(_records_table(page, whose=user is None))
    shown = f"{offset + 1}-{offset + len(page)} of {len(found)}"
    more = f"; next page: --offset {following}" if following is not None else ""
    console.print(f"{shown}{more}", style="dim", highlight=False)


def _records_table(records: list[MemoryRecord], *, whose: bool) -> Table:
    return _record_rows(("id", {"no_wrap": True, "width": 8, "overflow": "ellipsis"}),
                        [(r.id, r) for r in records], whose=whose)  # fmt: skip


def _record_rows(
    first: tuple[str, dict[str, Any]], rows: list[tuple[str, MemoryRecord]], *, whose: bool
) -> Table:
    """A table of records, each led by its cell of ``first`` (an id, a score)."""
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column(first[0], **first[1])
    table.add_column("kind", no_wrap=True, width=7)
    table.add_column("when", no_wrap=True, width=10)
    if whose:
        table.add_column("user/agent/session", max_width=18, overflow="fold")
    else:
        table.add_column("session", no_wrap=True, max_width=12, overflow="ellipsis")
    table.add_column("text", ratio=1, min_width=20, overflow="fold")
    for lead, record in rows:
        scope = record.session_id or "-"
        if whose:
            scope = "/".join(part or "-" for part in (record.user_id, record.agent_id, scope))
        table.add_row(
            lead, record.kind.value, record.timestamp.strftime("%Y-%m-%d"), escape(scope),
            _preview(record),
        )  # fmt: skip
    return table


# --- store -----------------------------------------------------------------------------


@app.command()
def stats(
    store: Store = DEFAULT_STORE,
    user: User = None,
    agent: Agent = None,
    session: Annotated[str | None, typer.Option("--session", help="session scope")] = None,
    tokenizer: Tokenizer = None,
    config: ConfigFile = None,
    json_output: Json = False,
) -> None:
    """Records in the store per kind, or in one scope with --user, --agent or --session."""
    with _handled(), _open(store, tokenizer, config) as mem:
        counts = mem.stats(user_id=user, agent_id=agent, session_id=session)
        embedder, tokens = mem.embedder, mem.token_counter.name
        info = {"store": store, "embedder": embedder.name, "dimensions": embedder.dimensions,
                "tokenizer": tokens}  # fmt: skip
    counts.pop("sessions", None)  # only the sessions this process loaded: none here
    if json_output:
        _emit_json({**info, **counts})
        return
    console.print(_stats_table({**info, **counts}))


@app.command()
def optimize(
    store: Store = DEFAULT_STORE,
    tokenizer: Tokenizer = None,
    config: ConfigFile = None,
    json_output: Json = False,
) -> None:
    """Compact the store and bring its indexes up to date."""
    with _handled(), _open(store, tokenizer, config) as mem:
        started = time.perf_counter()
        mem.optimize()
        elapsed = time.perf_counter() - started
        records = mem.stats()["records"]
    if json_output:
        _emit_json({"store": store, "records": records, "seconds": round(elapsed, 3)})
    else:
        console.print(f"Optimized {escape(store)} ({records:,} records) in {elapsed:.2f} s",
                      highlight=False, soft_wrap=True)  # fmt: skip


@app.command("export")
def export_(
    file: Annotated[str, typer.Argument(help="JSONL file to write; '-' for stdout")],
    store: Store = DEFAULT_STORE,
    tokenizer: Tokenizer = None,
    config: ConfigFile = None,
    json_output: Json = False,
    show_progress: ShowProgress = None,
) -> None:
    """Write every record and its vector as JSON lines, after a header line."""
    from .transfer import dump_record, header_line

    with _handled(), _open(store, tokenizer, config) as mem:
        started = time.perf_counter()
        out: IO[str]
        progress = _progress(json_output, show_progress)
        with _output(file) as out, progress:
            task = progress.add_task("exporting", total=mem.stats()["records"])
            out.write(header_line(mem.embedder.name, mem.embedder.dimensions) + "\n")
            count = 0
            for record, vector in mem.export_records():
                out.write(dump_record(record, vector) + "\n")
                count += 1
                progress.advance(task)
        elapsed = time.perf_counter() - started
    _report({"store": store, "file": file, "records": count, "seconds": round(elapsed, 3)},
            f"Exported {count:,} records to {file} in {elapsed:.2f} s", json_output,
            to_stderr=file == "-")  # fmt: skip


@app.command("import")
def import_(
    file: Annotated[str, typer.Argument(help="a file written by `tiermem export`; '-' for stdin")],
    store: Store = DEFAULT_STORE,
    tokenizer: Tokenizer = None,
    config: ConfigFile = None,
    json_output: Json = False,
    show_progress: ShowProgress = None,
) -> None:
    """Write exported records into a store (new or with the same embedder); ids are kept,
    so importing twice does not duplicate."""
    from ._validation import check_record
    from .transfer import read_export, stored_embedder

    with _handled():
        source = nullcontext(sys.stdin) if file == "-" else open(file, encoding="utf-8")  # noqa: SIM115
        progress = _progress(json_output, show_progress)
        with source as lines, progress:
            header, records = read_export(lines)
            existing = stored_embedder(store)
            if existing is not None and existing != header.embedder:
                raise InvalidInputError(
                    "file", f"was exported with {header.embedder!r}; the store uses {existing!r}"
                )
            started = time.perf_counter()
            reading = progress.add_task("reading", total=None)
            checked = []  # every line is read and checked before anything is written
            for number, (record, vector) in enumerate(records, start=1):
                checked.append((check_record(f"record {number}", record), vector))
                progress.advance(reading)
            writing = progress.add_task("importing", total=len(checked))
            count = 0
            with _open(store, tokenizer, config, header.embedder, create=True) as mem:
                for start in range(0, len(checked), _IMPORT_BATCH):
                    count += mem.import_records(checked[start : start + _IMPORT_BATCH])
                    progress.advance(writing, min(_IMPORT_BATCH, len(checked) - start))
            elapsed = time.perf_counter() - started
    _report({"store": store, "file": file, "records": count, "seconds": round(elapsed, 3)},
            f"Imported {count:,} records into {store} in {elapsed:.2f} s", json_output)  # fmt: skip


# --- mcp -------------------------------------------------------------------------------


@app.command("mcp")
def mcp_(
    store: Store = DEFAULT_STORE,
    user: User = None,
    agent: Agent = None,
    session: Annotated[
        str | None,
        typer.Option(
            "--session", help="the conversation build_context uses; also bounds the scope"
        ),
    ] = None,
    transport: Annotated[
        str, typer.Option("--transport", help="'stdio' (default) or 'streamable-http'")
    ] = "stdio",
    host: Annotated[
        str, typer.Option("--host", help="streamable HTTP: address to bind")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="streamable HTTP: port (path /mcp)")] = 8000,
    tokenizer: Tokenizer = None,
    config: ConfigFile = None,
) -> None:
    """Serve the store over MCP (tools: remember, search, build_context, update, forget),
    bound to --user / --agent (and --session): no client can widen that scope."""
    try:  # the [mcp] extra, imported here so that `tiermem --help` stays fast
        from mcp_tiermem import McpScope, serve
    except ImportError:
        _fail("tiermem mcp needs the MCP SDK: pip install 'tiermem[mcp]'")
    if transport not in ("stdio", "streamable-http"):
        _fail(f"--transport: must be 'stdio' or 'streamable-http', got {transport!r}")
    with _handled():
        scope = McpScope(user_id=user, agent_id=agent, session_id=session or "default",
                         scoped_session=session is not None)  # fmt: skip
        with _open(store, tokenizer, config, create=True) as mem:
            serve(mem, scope, transport=transport, host=host, port=port)  # type: ignore[arg-type]


_IMPORT_BATCH = 1_000


@contextmanager
def _output(file: str) -> Iterator[IO[str]]:
    if file == "-":
        yield sys.stdout
        return
    path = Path(file)
    partial = path.with_name(path.name + ".partial")
    # write aside and rename: an interrupted export never looks complete
    with partial.open("w", encoding="utf-8") as handle:
        yield handle
    partial.replace(path)


def _report(data: dict[str, Any], line: str, json_output: bool, *, to_stderr: bool = False) -> None:
    if json_output:
        if to_stderr:
            err_console.print_json(data=data)
        else:
            _emit_json(data)
    else:
        out = err_console if to_stderr else console
        out.print(escape(line), highlight=False, soft_wrap=True)


# --- rendering ----------------------------------------------------------------------------
# Tables keep short columns at fixed widths and let only text wrap, so they stay
# readable at 80 columns, where rich would otherwise squeeze every column.

_TIER_SHORT = {"short_term": "short", "medium_term": "medium", "long_term": "long"}
_PREVIEW_CHARS = 160
_PARTS_LEGEND = "parts, each in [0, 1]: t text (BM25), v vector, r recency, i importance"


def _print_messages(out: Console, messages: list[ChatMessage]) -> None:
    for message in messages:
        # soft wrap: the text stays as the model sees it, without inserted line breaks
        out.print(f"[bold cyan]{escape(message['role'])}[/]: {escape(str(message['content']))}",
                  highlight=False, soft_wrap=True)  # fmt: skip


def _preview(record: MemoryRecord) -> str:
    text = " ".join(record.text.split())
    text = text if len(text) <= _PREVIEW_CHARS else text[: _PREVIEW_CHARS - 3] + "..."
    return f"{record.speaker}: {text}"


def _parts(parts: ScoreParts | None) -> str:
    if parts is None:
        return "-"

    def short(x: float) -> str:
        return f"{x:.2f}".removeprefix("0")

    extra = f" n{short(parts.neighbor)}" if parts.neighbor else ""
    extra += f" s{short(parts.speaker)}" if parts.speaker != 1.0 else ""
    return (
        f"t{short(parts.text)} v{short(parts.vector)}\n"
        f"r{short(parts.recency)} i{short(parts.importance)}{extra}"
    )


def _parts_json(parts: ScoreParts | None) -> dict[str, float] | None:
    if parts is None:
        return None
    return {"text": parts.text, "vector": parts.vector, "recency": parts.recency,
            "importance": parts.importance, "speaker": parts.speaker,
            "neighbor": parts.neighbor}  # fmt: skip


def _record_json(record: MemoryRecord) -> dict[str, Any]:
    return {
        "id": record.id, "kind": record.kind.value, "text": record.text,
        "timestamp": record.timestamp.isoformat(), "role": record.role,
        "session_id": record.session_id, "user_id": record.user_id,
        "agent_id": record.agent_id, "importance": record.importance, "tags": list(record.tags),
        "metadata": dict(record.metadata), "pinned": record.pinned,
        "expires_at": None if record.expires_at is None else record.expires_at.isoformat(),
    }  # fmt: skip


def _hit_json(hit: SearchHit) -> dict[str, Any]:
    return {"score": hit.score, "parts": _parts_json(hit.parts), **_record_json(hit.record)}


def _hits_table(hits: list[SearchHit], *, whose: bool = False) -> Table:
    return _record_rows(("score", {"justify": "right", "no_wrap": True, "width": 5}),
                        [(f"{h.score:.3f}", h.record) for h in hits], whose=whose)  # fmt: skip


def _decision_json(decision: Decision) -> dict[str, Any]:
    candidate = decision.candidate
    return {
        "kept": decision.kept, "reason": decision.reason, "tier": candidate.tier.value,
        "tokens": candidate.tokens, "score": candidate.score,
        "parts": _parts_json(candidate.parts), "pinned": candidate.pinned,
        "ids": [r.id for r in candidate.records], "preview": _preview(candidate.records[0]),
    }  # fmt: skip


def _context_json(built: Context, tokenizer: str) -> dict[str, Any]:
    return {
        "token_count": built.token_count, "max_tokens": built.max_tokens,
        "tokenizer": tokenizer, "messages": built.messages,
        "tokens_per_tier": built.tokens_per_tier(),
        "decisions": [_decision_json(d) for d in built.decisions],
    }  # fmt: skip


def _explain_table(built: Context) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False, show_lines=False)
    table.add_column("", no_wrap=True, width=4)
    table.add_column("tier", no_wrap=True, width=6)
    table.add_column("tok", justify="right", no_wrap=True, width=5)
    table.add_column("score", justify="right", no_wrap=True, width=5)
    table.add_column("parts", no_wrap=True, width=10)
    table.add_column("reason / text", ratio=1, min_width=24, overflow="fold")
    for decision in built.decisions:
        c = decision.candidate
        mark = Text("kept", style="green") if decision.kept else Text("left", style="dim")
        detail = Text(decision.reason, style="italic" if decision.kept else "dim italic")
        detail.append("\n" + _preview(c.records[0]), style="" if decision.kept else "dim")
        table.add_row(
            mark, _TIER_SHORT.get(c.tier.value, c.tier.value), str(c.tokens),
            f"{c.score:.3f}", _parts(c.parts), detail,
        )  # fmt: skip
    return table


def _stats_table(data: dict[str, Any]) -> Table:
    from rich.table import Table

    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in data.items():
        if key == "scope":
            shown = ", ".join(f"{name}={scoped!r}" for name, scoped in value.items())
        elif isinstance(value, dict):
            continue  # metrics of callbacks: not in a fresh process
        else:
            shown = f"{value:,}" if isinstance(value, int) else str(value)
        table.add_row(key, shown)
    return table


# --- doctor -------------------------------------------------------------------------------


@app.command()
def doctor(
    store: Store = DEFAULT_STORE,
    tokenizer: Tokenizer = None,
    config: ConfigFile = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="also exit non-zero when degraded")
    ] = False,
    json_output: Json = False,
) -> None:
    """Check the store and this process; exit 1 when failing (or degraded, with --strict)."""
    from .health import Status, unopened

    try:
        with _open(store, tokenizer, config) as mem:
            found = mem.health()
    except (TieredMemoryError, OSError) as exc:
        found = unopened(store, exc)
    if json_output:
        _emit_json(found.to_dict())
    else:
        console.print(_health_table(found))
        style = {"ok": "green", "degraded": "yellow", "failing": "red"}[found.status.value]
        console.print(f"[bold {style}]{found.status.value}[/] ({len(found.checks)} checks "
                      f"in {found.seconds:.2f} s)", highlight=False)  # fmt: skip
    if found.status is Status.FAILING or (strict and found.status is Status.DEGRADED):
        raise typer.Exit(1)


def _health_table(found: Any) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("threshold", no_wrap=True)
    table.add_column("advice / detail", ratio=1, min_width=20, overflow="fold")
    colours = {"ok": "green", "degraded": "yellow", "failing": "red"}
    for check in found.checks:
        value = "-" if check.value is None else f"{check.value} {check.unit}".strip()
        note = Text(check.advice or "", style="bold")
        if check.detail:
            note.append(("\n" if check.advice else "") + check.detail, style="dim")
        table.add_row(
            check.name, Text(check.status.value, style=colours[check.status.value]), value,
            str(check.limit) if check.limit else "-", note,
        )  # fmt: skip
    return table


# --- serve --------------------------------------------------------------------------------


@app.command()
def serve(
    store: Store = DEFAULT_STORE,
    keys: Annotated[
        Path | None,
        typer.Option("--keys", help="TOML file of [[keys]] (name, key_sha256, scopes or admin)"),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="port to listen on")] = 8000,
    tokenizer: Tokenizer = None,
    config: ConfigFile = None,
    embedder: EmbedderName = None,
) -> None:
    """Serve the memory API, /health, /ready, /metrics and a page at / (tiermem[server])."""
    try:
        import uvicorn

        from .server import KEEP_ALIVE_SECONDS, ApiKey, create_app, load_keys, new_key
    except ImportError:
        _fail("the server needs its extra: pip install 'tiermem[server]'")
    with _handled():
        if keys is not None:
            api_keys = load_keys(keys)
        else:
            # no key file: one admin key for this run only, shown once
            secret = new_key()
            api_keys = [ApiKey(name="admin", key=secret, admin=True)]
            err_console.print(f"no --keys file: an admin key for this run: [bold]{secret}[/]",
                              highlight=False, soft_wrap=True)  # fmt: skip
        mem = _open(store, tokenizer, config, embedder, create=True)
    with mem:
        err_console.print(f"serving {escape(store)} on http://{host}:{port}/ "
                          f"(API docs at /docs)", highlight=False, soft_wrap=True)  # fmt: skip
        uvicorn.run(create_app(mem, keys=api_keys), host=host, port=port, log_level="warning",
                    timeout_keep_alive=KEEP_ALIVE_SECONDS)  # fmt: skip


def main() -> None:
    """Entry point: anything the commands did not turn into one line still gets one line."""
    try:
        app()
    except TieredMemoryError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
