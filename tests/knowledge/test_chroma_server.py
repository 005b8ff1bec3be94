"""The knowledge index in client/server mode: a real `chroma run` server on localhost, a real database (SQLite and
PostgreSQL), and two KnowledgeIndex instances standing for two processes. What one ingests, the other finds."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from bot.db import Database
from bot.migrate import upgrade
from bot.runtime import SAMPLE_SOPS, bootstrap_samples, build_runtime
from knowledge.index import COLLECTION, Hit, KnowledgeIndex, source_key
from tests.chroma_server import ChromaServer
from tests.conftest import make_settings

PARKING = """---
title: Bicycle Parking
---
## Where to park

Bicycles go in the basement garage on level minus two; the bicycle room opens with your badge.
"""


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    folder = tmp_path / "chroma-server"
    folder.mkdir()
    with ChromaServer(folder) as server:
        yield server


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    db = Database(database_url)
    yield db
    db.dispose()


def sources(hits: list[Hit]) -> list[str]:
    return [Path(hit.source).name for hit in hits]


def test_a_second_process_sees_what_the_first_ingests_adds_changes_and_removes(
    tmp_path: Path, database: Database, chroma: ChromaServer
) -> None:
    folder = tmp_path / "sops"
    shutil.copytree(SAMPLE_SOPS, folder)
    writer = KnowledgeIndex.server(chroma.url)
    # Another process: its own client and cache; checking the shared version on every search keeps this test
    # free of waits (the default, once a second, is tested below).
    reader = KnowledgeIndex.server(chroma.url, writer.embeddings, version_check_seconds=0)

    def ingest() -> tuple[list[str], list[str], list[str]]:
        with database.session_scope() as session:
            report = writer.ingest(session, [folder])
        assert report.failed == {}
        return report.added, report.updated, report.removed

    assert reader.search("internet stipend") == []  # empty collection: no hits, no error
    added, _, _ = ingest()
    assert len(added) == 14
    assert reader.count() == writer.count() > 14
    stipend = reader.search("internet stipend for working remotely", k=3)
    assert sources(stipend)[0] == "remote-work.md"
    assert "40 USD" in stipend[0].text
    assert reader.search("how do I approve a team member's request", audiences=["everyone"]) != []
    assert "manager-approvals-guide.md" not in sources(
        reader.search("manager approvals guide", k=10, audiences=["everyone"])
    )

    remote = folder / "remote-work.md"
    remote.write_text(remote.read_text(encoding="utf-8").replace("40 USD", "55 USD"), encoding="utf-8")
    (folder / "parking.md").write_text(PARKING, encoding="utf-8")
    (folder / "vpn.md").unlink()
    added, updated, removed = ingest()
    assert (added, updated, removed) == (
        [source_key(folder / "parking.md")],
        [source_key(remote)],
        [source_key(folder / "vpn.md")],
    )

    texts = " ".join(hit.text for hit in reader.search("internet stipend for working remotely", k=3))
    assert "55 USD" in texts and "40 USD" not in texts
    assert sources(reader.search("where can I park my bicycle", k=1)) == ["parking.md"]
    for question in ("GlobalProtect vpn gateway unreachable", "connecting to the VPN"):
        assert "vpn.md" not in sources(reader.search(question, k=10))
    # The keyword side was rebuilt too: a word only the new document has is weighed as present once.
    assert reader.idf_weights(["basement"])["basement"] < reader.idf_weights(["zzzunseen"])["zzzunseen"]

    # A process started now sees the same state, and the collection still ranks by cosine distance.
    late = KnowledgeIndex.server(chroma.url, writer.embeddings)
    assert late.count() == writer.count()
    assert sources(late.search("where can I park my bicycle", k=1)) == ["parking.md"]
    client = chromadb.HttpClient(
        host="127.0.0.1", port=chroma.port, settings=ChromaSettings(anonymized_telemetry=False)
    )
    assert client.get_collection(COLLECTION, embedding_function=None).configuration_json["hnsw"]["space"] == "cosine"


def test_the_shared_version_is_read_at_most_once_per_interval(
    tmp_path: Path, database: Database, chroma: ChromaServer
) -> None:
    folder = tmp_path / "sops"
    folder.mkdir()
    (folder / "parking.md").write_text(PARKING, encoding="utf-8")
    writer = KnowledgeIndex.server(chroma.url)
    with database.session_scope() as session:
        writer.ingest(session, [folder])
    reader = KnowledgeIndex.server(chroma.url, writer.embeddings, version_check_seconds=3)
    question = "where do bicycles go"
    checked = time.monotonic()
    assert "minus two" in reader.search(question, k=1)[0].text

    (folder / "parking.md").write_text(PARKING.replace("minus two", "minus three"), encoding="utf-8")
    with database.session_scope() as session:
        assert writer.ingest(session, [folder]).updated == [source_key(folder / "parking.md")]
    assert "minus three" in writer.search(question, k=1)[0].text  # the writer sees its own write at once
    stale = reader.search(question, k=1)[0].text
    if time.monotonic() - checked < 2.5:  # a very slow machine may already be past the interval
        assert "minus two" in stale, "the reader must not ask the server again within the interval"
    deadline = time.monotonic() + 10
    while "minus three" not in reader.search(question, k=1)[0].text:
        assert time.monotonic() < deadline, "the reader never saw the change"
        time.sleep(0.2)
    assert time.monotonic() - checked < 3 + 2  # within the interval, plus a search's time


def test_settings_with_a_chroma_url_build_the_runtime_on_the_server(tmp_path: Path, chroma: ChromaServer) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'server.db'}", BACKOFFICE_CHROMA_URL=chroma.url)
    runtime = build_runtime(settings)
    try:
        report = bootstrap_samples(runtime)
        assert len(report.added) == 14
        assert not settings.chroma_dir.exists(), "no embedded store beside the server"
        direct = KnowledgeIndex.server(chroma.url, runtime.index.embeddings)
        assert direct.count() == runtime.index.count() == report.chunks
    finally:
        runtime.close()


@pytest.mark.parametrize("url", ["chroma:8001", "ftp://chroma:8001", "http://chroma:8001/prefix", "http://"])
def test_a_malformed_chroma_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="looks like http://host:8001"):
        KnowledgeIndex.server(url)
