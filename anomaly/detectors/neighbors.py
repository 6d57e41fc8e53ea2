"""Scoring by distance to the training data in a network's feature space.

A detector fitted with ``n_neighbors`` keeps the features (an encoder's last
hidden layer) of up to :data:`MAX_REFERENCES` training samples and scores a
sample by minus the mean Euclidean distance of its features to its
``n_neighbors`` nearest references: PyOD's KNN, in a space the generative
model learnt instead of raw values. On whole images (Fashion-MNIST, one class
against the nine others) and on windows of one variable (NAB) it ranks better
than the likelihood, which spends most of its mass on pixel- or step-level
detail that normal and abnormal samples share.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable

import numpy as np
import torch

__all__ = [
    "AUTO_N_NEIGHBORS",
    "MAX_REFERENCES",
    "NeighborMixin",
    "neighbor_distance",
    "reference_index",
    "resolve_n_neighbors",
]

# Neighbours of "auto" (PyOD's KNN default), and the cap on kept training samples: in
# prototypes a seeded 2,000 of a Fashion-MNIST class's 6,000 ranked within 0.002 ROC-AUC of
# all of them, so 4,096 keeps a margin while bounding the model file and scoring time.
AUTO_N_NEIGHBORS = 5
MAX_REFERENCES = 4096


def resolve_n_neighbors(n_neighbors: str | int | None, whole_samples: bool) -> int | None:
    """The number of neighbours a fit uses: ``"auto"`` means 5 for ``whole_samples``, else none."""
    if n_neighbors == "auto":
        return AUTO_N_NEIGHBORS if whole_samples else None
    return n_neighbors


def reference_index(n_samples: int, seed: int) -> np.ndarray:
    """Sorted indices of the training samples kept as references: all, or a seeded sample."""
    if n_samples <= MAX_REFERENCES:
        return np.arange(n_samples)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_samples, MAX_REFERENCES, replace=False))


def neighbor_distance(
    features: torch.Tensor,
    references: torch.Tensor,
    n_neighbors: int,
    excluded: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean Euclidean distance of each row of ``features`` to its nearest ``references``.

    Parameters
    ----------
    features : Tensor of shape (batch, n_features)
    references : Tensor of shape (n_references, n_features)
    n_neighbors : int
    excluded : bool Tensor of shape (batch, n_references) or None
        References that are no neighbours of a row: a training sample itself
        (as PyOD's KNN scores its training data), or windows overlapping it.

    Returns
    -------
    distances : Tensor of shape (batch,)
    """
    # In float64: the fast |a|^2 + |b|^2 - 2ab form loses near neighbours' distances in float32.
    distances = torch.cdist(
        features.double(), references.double(), compute_mode="use_mm_for_euclid_dist"
    )
    k = min(n_neighbors, references.shape[0])
    available = torch.full((len(features),), references.shape[0], device=distances.device)
    if excluded is not None:
        # A row that would be left no reference at all (tiny training sets) keeps them all.
        excluded = excluded & (~excluded).any(dim=1, keepdim=True)
        distances = distances.masked_fill(excluded, torch.inf)
        available = (~excluded).sum(dim=1)
    # Each row's mean over its k nearest, or over all it has when it has fewer.
    counts = available.clamp(max=k)
    nearest = distances.topk(k, dim=1, largest=False).values
    kept = torch.arange(k, device=distances.device) < counts[:, None]
    return nearest.where(kept, 0.0).sum(dim=1) / counts


class NeighborMixin:
    """Scoring by ``n_neighbors`` for :class:`anomaly.detectors.base.BaseDeepDetector`.

    The detector supplies ``_features_batch`` (its network's features of a
    standardised batch) and ``_blockwise``; this keeps the references at fit,
    scores batches by them, and scores the training data leaving each
    sample's own reference out.
    """

    @abstractmethod
    def _features_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """Features of one standardised batch that ``n_neighbors`` measures distances in."""

    def _resolve_n_neighbors(self) -> None:
        """Set ``n_neighbors_`` from the parameter and the fitted input shapes."""
        n_neighbors = self.fitted_params_["n_neighbors"]
        if self.patch_size_ is not None and n_neighbors not in ("auto", None):
            raise ValueError(
                f"n_neighbors={n_neighbors!r} scores whole samples, but images larger than "
                f"patch_size={self.fitted_params_['patch_size']!r} are cut into patches and "
                "scored by their maps: pass patch_size=None, or n_neighbors=None."
            )
        # Where distances ranked better than the likelihood: whole images (Fashion-MNIST) and
        # windows of one variable (NAB), where a window's shape is what the values say.
        whole_images = self.image_shape_ is not None and self.patch_size_ is None
        one_variable = self.window_shape_ is not None and self.window_shape_[0] == 1
        self.n_neighbors_ = resolve_n_neighbors(n_neighbors, whole_images or one_variable)

    def _fit_references(self, X: np.ndarray) -> None:
        """Keep the features of (a seeded sample of) the training samples."""
        if self.n_neighbors_ is None:
            vars(self).pop("neighbor_features_", None)  # a refit's, not an earlier fit's
        else:
            kept = X[reference_index(len(X), self.scoring_seed_)]
            features = self._blockwise(kept, self._features_batch, "remembering")
            self.neighbor_features_ = features.astype(np.float32)

    def _sample_score_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """Scores of one standardised batch of rows or whole images: by neighbours, or by
        the scoring rule."""
        if self.n_neighbors_ is None:
            return self._score_batch(batch)
        return self._neighbor_batch(batch)

    def _neighbor_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """Minus each sample's mean distance to its nearest references (``n_neighbors_``)."""
        references = torch.as_tensor(self.neighbor_features_, device=batch.device)
        return -neighbor_distance(self._features_batch(batch), references, self.n_neighbors_)

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        if self.n_neighbors_ is None:
            return super()._training_scores(X)
        own = np.full(len(X), -1)
        kept = reference_index(len(X), self.scoring_seed_)
        own[kept] = np.arange(len(kept))
        return self._neighbor_scores(X, lambda rows: own[rows, None] == np.arange(len(kept)))

    def _neighbor_scores(
        self, X: np.ndarray, excluded: Callable[[slice], np.ndarray]
    ) -> np.ndarray:
        """Minus each sample's mean distance to its nearest references, leaving out those
        ``excluded(rows)`` marks for ``X[rows]`` (a boolean array, rows by references)."""
        references = torch.from_numpy(self.neighbor_features_)
        block = self._scoring_block_rows()
        scores = []
        for start in range(0, len(X), block):
            rows = slice(start, start + block)
            features = self._blockwise(X[rows], self._features_batch, "remembering")
            distances = neighbor_distance(
                torch.from_numpy(features).float(),
                references,
                self.n_neighbors_,
                torch.from_numpy(excluded(rows)),
            )
            scores.append(-distances.numpy())
        return np.concatenate(scores) if scores else np.empty(0)
