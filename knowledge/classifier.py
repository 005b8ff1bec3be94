"""A small text classifier trained at start-up on our own examples: logistic regression over word TF-IDF and
the all-MiniLM-L6-v2 sentence vector. The router (which skill) and the security-incident model use it."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from knowledge.embeddings import MiniLMEmbeddings

# Classifiers trained in this process, by what they were trained on: the same examples and settings give the same
# model, so a second runtime in one process (a test, an eval's deployment) reuses it instead of fitting it again
# (~3 s). A fitted vectorizer and model are only read after training.
_TRAINED: dict[str, tuple[TfidfVectorizer, LogisticRegression]] = {}
_TRAINED_LOCK = threading.Lock()


def _training_key(
    texts: Sequence[str],
    labels: Sequence[str | int],
    vectorizer: TfidfVectorizer,
    embeddings: MiniLMEmbeddings,
    *,
    c: float,
    max_tokens: int,
) -> str:
    params = sorted((name, repr(value)) for name, value in vectorizer.get_params().items())
    model = type(embeddings).__qualname__
    material = json.dumps([list(texts), [repr(label) for label in labels], params, model, c, max_tokens])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _features(vectorizer: TfidfVectorizer, texts: Sequence[str], vectors: np.ndarray) -> csr_matrix:
    features: csr_matrix = hstack([vectorizer.transform(list(texts)), csr_matrix(vectors)]).tocsr()
    return features


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
        key = _training_key(texts, labels, vectorizer, embeddings, c=c, max_tokens=max_tokens)
        with _TRAINED_LOCK:
            trained = _TRAINED.get(key)
        if trained is None:
            vectorizer.fit(list(texts))
            if vector_cache is not None:
                vectors = embeddings.embed_array_stored(list(texts), max_tokens=max_tokens, folder=vector_cache)
            else:
                vectors = embeddings.embed_array(list(texts), max_tokens=max_tokens)
            model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
            model.fit(_features(vectorizer, texts, vectors), list(labels))
            trained = vectorizer, model
            with _TRAINED_LOCK:
                _TRAINED[key] = trained
        self.vectorizer, self._model = trained
        self.classes: list[str | int] = list(self._model.classes_)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, one column per class (in `classes` order)."""
        vectors = self._embeddings.embed_array(list(texts), max_tokens=self._max_tokens)
        probabilities: np.ndarray = np.asarray(self._model.predict_proba(_features(self.vectorizer, texts, vectors)))
        return probabilities
