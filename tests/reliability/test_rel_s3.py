"""Object storage: several instances on one ``s3://`` store, served by moto on loopback.

moto's S3-compatible server runs in a thread of this process on 127.0.0.1; LanceDB
reaches it through ``storage_options``. No traffic leaves the machine.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator

import pytest
import rel_workers as w

from tiermem import TieredMemory

moto_server = pytest.importorskip("moto.server", reason="needs moto[server] (the [dev] extra)")
boto3 = pytest.importorskip("boto3")

# sockets stay disabled for everything but loopback (pytest-socket)
pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

BUCKET = "tiermem-reliability"


@pytest.fixture(scope="module")
def storage_options() -> Iterator[dict[str, str]]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **keys)
    s3.create_bucket(Bucket=BUCKET)
    try:
        yield {"aws_endpoint": endpoint, "aws_region": "us-east-1", "allow_http": "true", **keys}
    finally:
        server.stop()


@pytest.fixture
def uri() -> str:
    return f"s3://{BUCKET}/{uuid.uuid4().hex}"


def test_instances_on_one_bucket_share_what_they_wrote(
    uri: str, storage_options: dict[str, str]
) -> None:
    config = w.small_config(storage_options=storage_options)
    with TieredMemory(uri, config=config) as first:
        mine = first.add_message(
            "user", "from instance one: the boat leaves Faro at 9", user_id="u"
        )
        fact = first.remember("Instance one's user prefers the ferry", user_id="u", tags=["pref"])
    with TieredMemory(uri, config=config) as second:
        assert second.get(mine.id).text == mine.text
        assert {h.record.id for h in second.search("ferry boat Faro", user_id="u")} == {
            mine.id,
            fact.id,
        }
        theirs = second.add_message("user", "from instance two: and returns at 18", user_id="u")
        ctx = second.build_context("when does the boat leave?", session_id="other", user_id="u")
        assert "Faro at 9" in ctx.text
    with TieredMemory(uri, config=config) as third:
        assert third.get(theirs.id).text == theirs.text
        assert third.stats()["records"] == 3


def test_concurrent_writers_on_object_storage_lose_nothing(
    uri: str, storage_options: dict[str, str]
) -> None:
    TieredMemory(uri, config=w.small_config(storage_options=storage_options)).close()
    sessions: list[tuple[str, str | None]] = [
        ("s3-a", "u-shared"), ("s3-b", "u-shared"), ("s3-c", None), ("s3-d", "u-d"),
    ]  # fmt: skip
    go = threading.Event()
    go.set()
    # each thread its own TieredMemory, i.e. its own connection and commits, as apps
    # would; no background compaction: every S3 call goes through moto in this process
    report = w.writer_process(uri, sessions, 5, None, storage_options, go=go)
    assert report["errors"] == []
    assert len(report["acked"]) == len(sessions) * w.acks_per_writer(5)
    audit = w.audit_store(uri, report["acked"], storage_options=storage_options)
    assert audit["lost"] == [], f"{len(audit['lost'])} of {len(report['acked'])} lost"
    assert audit["duplicate_ids"] == 0
    assert audit["duplicate_seqs"] == {}
    assert audit["rows"] == audit["records_stat"]
    print(f"s3: {len(sessions)} writers: {len(report['acked'])} acknowledged, 0 lost")


async def test_async_calls_on_object_storage(uri: str, storage_options: dict[str, str]) -> None:
    config = w.small_config(storage_options=storage_options)
    async with TieredMemory(uri, config=config) as mem:
        record = await mem.aadd_message("user", "async over S3: the train to Braga", user_id="u")
        hits = await mem.asearch("train Braga", user_id="u")
        assert [h.record.id for h in hits] == [record.id]
        await mem.aoptimize()
    with TieredMemory(uri, config=config) as mem:
        assert mem.get(record.id).text == record.text


def test_an_open_instance_sees_later_writes_on_object_storage(
    uri: str, storage_options: dict[str, str]
) -> None:
    config = w.small_config(storage_options=storage_options)
    with TieredMemory(uri, config=config) as a, TieredMemory(uri, config=config) as b:
        record = a.add_message("user", "written by a after b opened", user_id="u")
        assert b.get(record.id).text == record.text
