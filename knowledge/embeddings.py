"""Embeddings that ship inside a pip package (WordLlama): nothing is downloaded at run time."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings


@lru_cache(maxsize=1)
def _load_wordllama() -> Any:
    import wordllama
    from wordllama import WordLlama

    # 0.4.0.post1 looks for its bundled tokenizer in the wrong folder and would try to download it;
    # pointing cache_dir at the installed package makes it use the files in the wheel, offline.
    package_dir = os.path.dirname(wordllama.__file__)
    return WordLlama.load(cache_dir=package_dir, disable_download=True)


class WordLlamaEmbeddings(Embeddings):
    """langchain Embeddings over the WordLlama model bundled in the wheel (256 dims, L2-normalised)."""

    dimensions = 256

    def embed_array(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = _load_wordllama().embed(texts, norm=True)
        return np.asarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()  # type: ignore[no-any-return]
