"""Plots of detectors and their scores, on matplotlib's object API (no global pyplot state).

Every function returns the matplotlib ``Figure`` it drew, so it can be saved
(``fig.savefig(path)``) or shown in a notebook.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score, roc_curve

from anomaly.base import BaseDeepDetector

__all__ = ["plot_reconstructions", "plot_roc_curves"]


def plot_reconstructions(
    detector: BaseDeepDetector, images: np.ndarray, *, n_images: int = 8
) -> Figure:
    """A grid of images (top), their reconstructions (middle) and anomaly maps (bottom).

    Parameters
    ----------
    detector : fitted VAEDetector, GANDetector or VAEGANDetector
        Fitted on images.
    images : ndarray of shape (n, height, width) or (n, channels, height, width)
        Images as the detector takes them; the first ``n_images`` are drawn.
    n_images : int, default=8
        Number of columns.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from anomaly import VAEDetector
    >>> from anomaly.plotting import plot_reconstructions
    >>> images = np.random.default_rng(0).uniform(size=(50, 8, 8))
    >>> detector = VAEDetector(epochs=1, random_state=0).fit(images)
    >>> fig = plot_reconstructions(detector, images, n_images=4)
    >>> len(fig.axes)
    12
    """
    images = np.asarray(images)[:n_images]
    reconstructions = detector.reconstruct(images)
    maps = detector.anomaly_map(images)
    scores = detector.score_samples(images)
    n = len(images)
    fig = Figure(figsize=(1.6 * n, 5.2), layout="constrained")
    axes = fig.subplots(3, n, squeeze=False)
    limits = (float(np.min(images)), float(np.max(images)))
    for column in range(n):
        rows = [
            (_displayable(images[column]), "gray", limits),
            (_displayable(reconstructions[column]), "gray", limits),
            (maps[column], "inferno", (None, None)),
        ]
        for row, (picture, cmap, (low, high)) in enumerate(rows):
            ax = axes[row, column]
            ax.imshow(picture, cmap=cmap, vmin=low, vmax=high)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, column].set_title(f"score {scores[column]:.3g}", fontsize=8)
    for row, label in enumerate(["input", "reconstruction", "anomaly map"]):
        axes[row, 0].set_ylabel(label)
    fig.suptitle(f"{type(detector).__name__}: lower score = more abnormal")
    return fig


def _displayable(image: np.ndarray) -> np.ndarray:
    """(H, W) as is; (1, H, W) squeezed; (3, H, W) to (H, W, 3) clipped to [0, 1]."""
    if image.ndim == 2:
        return image
    if image.shape[0] == 1:
        return image[0]
    if image.shape[0] == 3:
        return np.clip(image.transpose(1, 2, 0), 0, 1)
    return image.mean(axis=0)  # other channel counts: their mean, as grey


def plot_roc_curves(
    y_true: np.ndarray,
    scores: Mapping[str, np.ndarray],
    *,
    ax: Axes | None = None,
) -> Figure:
    """ROC curves of several detectors on the same labels, with their ROC-AUC.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 (or True) for an anomaly, 0 for a normal sample.
    scores : mapping of str to array-like of shape (n_samples,)
        Each detector's ``score_samples`` output (lower = more abnormal, the
        scikit-learn convention); negate scores that rise with abnormality.
    ax : matplotlib Axes, optional
        Draw into this Axes instead of a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from anomaly.plotting import plot_roc_curves
    >>> fig = plot_roc_curves([0, 0, 1, 1], {"perfect": [4, 3, 2, 1], "reversed": [1, 2, 3, 4]})
    >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    ['perfect (ROC-AUC 1.000)', 'reversed (ROC-AUC 0.000)', 'chance']
    """
    if ax is None:
        fig = Figure(figsize=(5, 5), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    y_true = np.asarray(y_true)
    for name, normality in scores.items():
        abnormality = -np.asarray(normality, dtype=float)
        fpr, tpr, _ = roc_curve(y_true, abnormality)
        ax.plot(fpr, tpr, label=f"{name} (ROC-AUC {roc_auc_score(y_true, abnormality):.3f})")
    ax.plot([0, 1], [0, 1], linestyle=":", color="gray", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1))
    ax.set_aspect("equal")
    ax.legend(loc="lower right", fontsize=8)
    return fig
