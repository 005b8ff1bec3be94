"""A small text classifier trained at start-up on our own examples: logistic regression over word TF-IDF and
the all-MiniLM-L6-v2 sentence vector. The router (which skill) and the security-incident model use it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from knowledge.embeddings import MiniLMEmbeddings


class TextClassifier:
    def __init__(
        self,
        texts: Sequence[str],
        labels: Sequence[str | int],
        embeddings: MiniLMEmbeddings,
        *,
        vectorizer: TfidfVectorizer,
        c: float,
        max_tokens: int,
        vector_cache: Path | None = None,
    ) -> None:
        """`vector_cache`: a folder where the examples' vectors are kept between starts (Settings.cache_dir);
        `max_tokens`: how much of each text the sentence vector reads."""
        self._embeddings = embeddings
        self._max_tokens = max_tokens
        self.vectorizer = vectorizer
        self.vectorizer.fit(list(texts))
        if vector_cache is not None:
            vectors = embeddings.embed_array_stored(list(texts), max_tokens=max_tokens, folder=vector_cache)
        else:
            vectors = embeddings.embed_array(list(texts), max_tokens=max_tokens)
        self._model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
        self._model.fit(self._features(texts, vectors), list(labels))
        self.classes: list[str | int] = list(self._model.classes_)

    def _features(self, texts: Sequence[str], vectors: np.ndarray) -> csr_matrix:
        features: csr_matrix = hstack([self.vectorizer.transform(list(texts)), csr_matrix(vectors)]).tocsr()
        return features

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, one column per class (in `classes` order)."""
        vectors = self._embeddings.embed_array(list(texts), max_tokens=self._max_tokens)
        probabilities: np.ndarray = np.asarray(self._model.predict_proba(self._features(texts, vectors)))
        return probabilities
