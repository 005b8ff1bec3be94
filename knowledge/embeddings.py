"""Embeddings that ship inside a pip package (WordLlama): nothing is downloaded at run time."""

from __future__ import annotations

import itertools
import os
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.sparse
from langchain_core.embeddings import Embeddings
from tokenizers import Tokenizer


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
