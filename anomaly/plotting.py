"""Plots of detectors and their scores, on matplotlib's object API (no global pyplot state).

Every function returns the matplotlib ``Figure`` it drew, so it can be saved
(``fig.savefig(path)``) or shown in a notebook. Scores are anomaly scores,
higher = more abnormal, as the metrics take them (:mod:`anomaly.adapters`
turns any detector's scores into these).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from anomaly.adapters import infinities_as_largest
from anomaly.csv_reading import to_datetime
from anomaly.detectors.base import BaseDeepDetector
from anomaly.metrics import _check_labels, anomaly_events

__all__ = [
    "plot_anomaly_map",
    "plot_comparison",
    "plot_image_grid",
    "plot_latent_projection",
    "plot_pr_curves",
    "plot_reconstructions",
    "plot_roc_curves",
    "plot_score_distributions",
    "plot_timeline",
]


def plot_reconstructions(
    detector: BaseDeepDetector, images: np.ndarray, *, n_images: int = 8
) -> Figure:
    """A grid of images (top), their reconstructions (middle) and anomaly maps (bottom).

    Parameters
    ----------
    detector : fitted VAEDetector, GANDetector or VAEGANDetector
        Fitted on images.
    images : ndarray of shape (n, height, width) or (n, channels, height, width)
        Images as the detector takes them (a list of arrays of different
        sizes where it cuts them into patches); the first ``n_images`` are drawn.
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
    if isinstance(images, (list, tuple)):  # images of different sizes, cut into patches
        images = list(images[:n_images])
    else:
        images = np.asarray(images)[:n_images]
    reconstructions = detector.reconstruct(images)
    maps = detector.anomaly_map(images)
    scores = -detector.score_samples(images)  # anomaly scores, as the maps
    n = len(images)
    fig = Figure(figsize=(1.6 * n, 5.2), layout="constrained")
    axes = fig.subplots(3, n, squeeze=False)
    # Missing pixels (NaN) left out; booleans as numbers.
    limits = (float(min(map(np.nanmin, images))), float(max(map(np.nanmax, images))))
    # Patches are reconstructed in lighting-normalised units: each on its own scale.
    rebuilt_limits = (None, None) if detector.patch_size_ is not None else limits
    for column in range(n):
        rows = [
            (_displayable(images[column], limits), "gray", limits),
            (_displayable(reconstructions[column], rebuilt_limits), "gray", rebuilt_limits),
            (maps[column], "inferno", (None, None)),
        ]
        for row, (picture, cmap, (low, high)) in enumerate(rows):
            ax = axes[row, column]
            ax.imshow(picture, cmap=cmap, vmin=low, vmax=high)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, column].set_title(f"anomaly score {scores[column]:.3g}", fontsize=7)
    for row, label in enumerate(["input", "reconstruction", "anomaly map"]):
        axes[row, 0].set_ylabel(label)
    fig.suptitle(f"{type(detector).__name__}: higher anomaly score = more abnormal")
    return fig


def plot_anomaly_map(
    detector: BaseDeepDetector, image: np.ndarray, *, mask: np.ndarray | None = None
) -> Figure:
    """One image, its anomaly map laid over it, and (if given) the true defect's outline.

    Parameters
    ----------
    detector : fitted VAEDetector, GANDetector or VAEGANDetector
        Fitted on images.
    image : ndarray of shape (height, width) or (channels, height, width)
        One image as the detector takes it.
    mask : ndarray of bool of shape (height, width), optional
        Where the defect is: outlined in cyan on both panels.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from anomaly import VAEDetector
    >>> from anomaly.plotting import plot_anomaly_map
    >>> images = np.random.default_rng(0).normal(size=(4, 40, 50))
    >>> detector = VAEDetector(patch_size=16, epochs=1, n_draws=2, random_state=0)
    >>> mask = np.zeros((40, 50), dtype=bool)
    >>> mask[10:14, 20:25] = True
    >>> fig = plot_anomaly_map(detector.fit(images), images[0], mask=mask)
    >>> len(fig.axes)
    3
    """
    anomaly_map = detector.anomaly_map([image])[0]
    score = -detector.score_samples([image])[0]
    picture = _displayable(image)
    fig = Figure(figsize=(7.5, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.imshow(picture, cmap="gray")
    left.set_title("image")
    right.imshow(picture, cmap="gray")
    overlay = right.imshow(anomaly_map, cmap="inferno", alpha=0.55)
    right.set_title(f"anomaly map (image score {score:.3g})")
    fig.colorbar(overlay, ax=right, shrink=0.8, label="higher = more abnormal")
    outlined = mask is not None and np.any(mask)
    for ax in (left, right):
        if outlined:
            ax.contour(np.asarray(mask, dtype=float), levels=[0.5], colors="cyan", linewidths=1)
        ax.set_xticks([])
        ax.set_yticks([])
    if outlined:
        left.set_title("image, defect outlined")
    fig.suptitle(type(detector).__name__)
    return fig


def _displayable(
    image: np.ndarray, limits: tuple[float | None, float | None] = (None, None)
) -> np.ndarray:
    """(H, W) as is; (1, H, W) squeezed; (3, H, W) to (H, W, 3) scaled to [0, 1] from
    ``limits`` (the image's own where None), as ``imshow`` does not scale colour images."""
    image = np.asarray(image, dtype=np.float64)  # booleans have no difference to scale by
    if image.ndim == 2:
        return image
    if image.shape[0] == 1:
        return image[0]
    if image.shape[0] == 3:
        low = np.nanmin(image) if limits[0] is None else limits[0]
        high = np.nanmax(image) if limits[1] is None else limits[1]
        scaled = (image - low) / (high - low if high > low else 1.0)
        return np.clip(scaled.transpose(1, 2, 0), 0, 1)
    return image.mean(axis=0)  # other channel counts: their mean, as grey


def plot_image_grid(images: np.ndarray, *, n_cols: int = 8) -> Figure:
    """Images in rows of ``n_cols``: samples, or one interpolation path per row.

    Parameters
    ----------
    images : ndarray of shape (n, height, width) or (n, channels, height, width)
        E.g. ``detector.sample(16)``, or ``interpolate``'s paths stacked.
    n_cols : int, default=8

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_image_grid(np.zeros((10, 1, 8, 8)), n_cols=5)
    >>> len(fig.axes)
    10
    """
    images = np.asarray(images, dtype=np.float64)
    n_rows = -(-len(images) // n_cols)
    fig = Figure(figsize=(1.1 * n_cols, 1.1 * n_rows))
    # One grey scale, so that images compare by brightness; missing pixels (NaN) left out.
    low, high = np.nanmin(images), np.nanmax(images)
    for index, image in enumerate(images):
        ax = fig.add_subplot(n_rows, n_cols, index + 1)
        ax.imshow(_displayable(image, (low, high)), cmap="gray", vmin=low, vmax=high)
        ax.set_axis_off()
    return fig


def plot_latent_projection(
    codes: np.ndarray, labels: np.ndarray, *, ax: Axes | None = None
) -> Figure:
    """Latent codes (``transform``) projected on their first two principal axes, by class.

    Parameters
    ----------
    codes : ndarray of shape (n_samples, latent_dim)
    labels : array-like of shape (n_samples,)
        The class of each sample, for the colours.
    ax : matplotlib Axes, optional

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> codes = np.random.default_rng(0).normal(size=(50, 4))
    >>> fig = plot_latent_projection(codes, np.arange(50) % 3)
    >>> len(fig.axes[0].collections)
    3
    """
    codes, labels = np.asarray(codes, dtype=float), np.asarray(labels)
    centred = codes - codes.mean(axis=0)
    # The first two principal axes, from the SVD of the centred codes.
    axes = np.linalg.svd(centred, full_matrices=False)[2][:2]
    # Codes of one dimension (or one code) have one axis: the second is drawn at 0.
    projected = np.pad(centred @ axes.T, ((0, 0), (0, 2 - len(axes))))
    fig, ax = _figure_and_axes(ax, (5, 4))
    # NaN is a class of its own; labels that cannot be sorted keep their order of appearance.
    try:
        codes_of, classes = pd.factorize(labels, sort=True, use_na_sentinel=False)
    except TypeError:
        codes_of, classes = pd.factorize(labels, use_na_sentinel=False)
    for k, label in enumerate(classes):
        points = projected[codes_of == k]
        ax.scatter(points[:, 0], points[:, 1], s=4, label=str(label))
    ax.set(xlabel="first principal axis", ylabel="second principal axis")
    ax.legend(fontsize=7, markerscale=3, ncols=2)
    return fig


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
        Each detector's anomaly scores (higher = more abnormal, e.g. from
        :func:`anomaly.adapters.anomaly_scores` or :func:`anomaly.compare`).
    ax : matplotlib Axes, optional
        Draw into this Axes instead of a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from anomaly.plotting import plot_roc_curves
    >>> fig = plot_roc_curves([0, 0, 1, 1], {"perfect": [1, 2, 3, 4], "reversed": [4, 3, 2, 1]})
    >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    ['perfect (ROC-AUC 1.000)', 'reversed (ROC-AUC 0.000)', 'chance']
    """
    fig, ax = _figure_and_axes(ax, (5, 5))
    y_true = _check_labels(y_true, "y_true")
    for name, abnormality in scores.items():
        abnormality = infinities_as_largest(abnormality)
        fpr, tpr, _ = roc_curve(y_true, abnormality)
        ax.plot(fpr, tpr, label=f"{name} (ROC-AUC {roc_auc_score(y_true, abnormality):.3f})")
    ax.plot([0, 1], [0, 1], linestyle=":", color="gray", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1))
    ax.set_aspect("equal")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def _figure_and_axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is None:
        fig = Figure(figsize=size, layout="constrained")
        return fig, fig.add_subplot()
    return ax.figure.figure, ax  # the root Figure, also for an Axes in a SubFigure


def plot_pr_curves(
    y_true: np.ndarray,
    scores: Mapping[str, np.ndarray],
    *,
    ax: Axes | None = None,
) -> Figure:
    """Precision-recall curves of several detectors on the same labels, with their PR-AUC.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 (or True) for an anomaly, 0 for a normal sample.
    scores : mapping of str to array-like of shape (n_samples,)
        Each detector's anomaly scores (higher = more abnormal).
    ax : matplotlib Axes, optional
        Draw into this Axes instead of a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from anomaly.plotting import plot_pr_curves
    >>> fig = plot_pr_curves([0, 0, 0, 1], {"perfect": [1, 2, 3, 4]})
    >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    ['perfect (PR-AUC 1.000)', 'chance (0.250)']
    """
    fig, ax = _figure_and_axes(ax, (5, 5))
    y_true = _check_labels(y_true, "y_true")
    for name, abnormality in scores.items():
        abnormality = infinities_as_largest(abnormality)
        precision, recall, _ = precision_recall_curve(y_true, abnormality)
        area = average_precision_score(y_true, abnormality)
        ax.step(recall, precision, where="post", label=f"{name} (PR-AUC {area:.3f})")
    rate = float(np.mean(y_true))  # a random ranking's precision
    ax.axhline(rate, linestyle=":", color="gray", label=f"chance ({rate:.3f})")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="upper right", fontsize=8)
    return fig


def plot_score_distributions(
    y_true: np.ndarray,
    scores: np.ndarray,
    *,
    bins: int = 50,
    ax: Axes | None = None,
) -> Figure:
    """Histograms of the scores of normal and anomalous samples, overlaid.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 (or True) for an anomaly, 0 for a normal sample.
    scores : array-like of shape (n_samples,)
        A detector's anomaly scores (higher = more abnormal).
    bins : int, default=50
        Shared bins of both histograms.
    ax : matplotlib Axes, optional
        Draw into this Axes instead of a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from anomaly.plotting import plot_score_distributions
    >>> fig = plot_score_distributions([0, 0, 1], np.array([-1.0, -1.2, 3.0]))
    >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    ['normal (2)', 'anomalous (1)']
    """
    fig, ax = _figure_and_axes(ax, (6, 3.5))
    y_true = _check_labels(y_true, "y_true").astype(bool)
    scores = np.asarray(scores, dtype=float)
    # Also without the largest floats, anomaly_scores' infinities, which would stretch the bins.
    finite = np.abs(scores) < np.finfo(float).max
    edges = np.histogram_bin_edges(scores[finite], bins=bins)
    for mask, name in [(~y_true, "normal"), (y_true, "anomalous")]:
        drawn = int((mask & finite).sum())
        ax.hist(
            scores[mask & finite],
            bins=edges,
            alpha=0.6,
            density=drawn > 0,  # an empty class has no density (0 / 0)
            label=f"{name} ({drawn})",
        )
    ax.set(xlabel="anomaly score", ylabel="density")
    ax.legend(fontsize=8)
    return fig


def plot_timeline(
    series: np.ndarray | pd.DataFrame,
    scores: np.ndarray,
    *,
    labels: np.ndarray | None = None,
    timestamps: np.ndarray | None = None,
    threshold: float | None = None,
) -> Figure:
    """A time series (top) and its per-step scores (bottom), labelled windows shaded.

    Parameters
    ----------
    series : array-like of shape (n_steps,) or (n_steps, n_variables), or DataFrame
        The values, one line per variable (named by the DataFrame's columns).
    scores : array-like of shape (n_steps,)
        Per-step anomaly scores (higher = more abnormal), e.g. minus
        ``TimeSeriesDetector.score_samples`` or the ``anomaly_score`` column
        of ``anomaly score``.
    labels : array-like of shape (n_steps,), optional
        1 for anomalous steps: their windows are shaded on both panels.
    timestamps : array-like of shape (n_steps,), optional
        The x axis; the step index by default.
    threshold : float, optional
        Drawn as a horizontal line on the scores (e.g. minus the detector's
        ``offset_``, above which steps are labelled anomalies).

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from anomaly.plotting import plot_timeline
    >>> labels = np.zeros(100, dtype=int); labels[40:50] = 1
    >>> fig = plot_timeline(np.sin(np.arange(100) / 5), labels * 3.0, labels=labels)
    >>> len(fig.axes), len(fig.axes[0].patches)
    (2, 1)
    """
    frame = series if isinstance(series, pd.DataFrame) else pd.DataFrame(np.asarray(series))
    x = np.arange(len(frame)) if timestamps is None else np.asarray(timestamps)
    # Text, as read from a CSV, is read as times where it can be, else kept as tick labels.
    tick_labels = None
    if x.dtype.kind in "US" or (x.dtype.kind == "O" and len(x) and isinstance(x[0], str)):
        x, tick_labels = _times_or_positions(x)
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    for column in frame.columns:
        top.plot(x, frame[column].to_numpy(), linewidth=0.8, label=str(column))
    bottom.plot(x, np.asarray(scores, dtype=float), color="black", linewidth=0.8)
    if threshold is not None:
        bottom.axhline(threshold, color="tab:red", linestyle="--", label="threshold")
        bottom.legend(fontsize=8, loc="upper left")
    if tick_labels is not None:
        bottom.xaxis.set_major_locator(MaxNLocator(8, integer=True, min_n_ticks=1))
        bottom.xaxis.set_major_formatter(_whole_position_label(tick_labels))
    if labels is not None:
        # A step spans to the next one (the last step: as long as the one before).
        ends = np.r_[x[1:], x[-1] + (x[-1] - x[-2])] if len(x) > 1 else x + 1
        for start, stop in anomaly_events(labels):
            for ax in (top, bottom):
                ax.axvspan(x[start], ends[stop - 1], color="tab:red", alpha=0.2, linewidth=0)
    if frame.shape[1] <= 10:
        top.legend(fontsize=8, loc="upper right")
    top.set(ylabel="value")
    bottom.set(ylabel="anomaly score", xlabel="time" if timestamps is not None else "step")
    return fig


def _times_or_positions(text: np.ndarray) -> tuple[np.ndarray, list[str] | None]:
    """Timestamps as times, read as the CSV reader reads them (offsets that change, as
    across a change to daylight saving time, in UTC), or, where they are not times, step
    positions and the text as tick labels (a categorical axis would draw every label)."""
    strings = pd.Series(text, dtype=object)
    if strings.map(type).eq(str).all():
        try:
            times = to_datetime(strings.str.strip(), "ISO8601")
        except (ValueError, TypeError):
            times = None
        if times is not None and times.notna().all():
            if str(times.dt.tz) == "UTC":  # naive, as the time axis plots UTC
                times = times.dt.tz_localize(None)
            return times.to_numpy(), None
    return np.arange(len(text)), [
        value.decode() if isinstance(value, bytes) else str(value) for value in text
    ]


def _whole_position_label(tick_labels: list[str]) -> FuncFormatter:
    # Only whole positions are steps: a tick between two (zoomed in) gets no label.
    def label(position: float, _: int) -> str:
        step = round(position)
        whole = abs(position - step) < 1e-9 and 0 <= step < len(tick_labels)
        return tick_labels[step] if whole else ""

    return FuncFormatter(label)


def plot_comparison(
    table: pd.DataFrame, *, metric: str = "roc_auc", ax: Axes | None = None
) -> Figure:
    """Bars of a comparison table: mean ``metric`` per dataset, one bar per detector.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`anomaly.compare` (columns ``detector``,
        ``dataset``, ``metric``, ``value``) or of
        :func:`anomaly.generative_comparison.compare_generative` (no
        ``dataset``); seeds are averaged, with their standard deviation as
        error bars.
    metric : str, default="roc_auc"
        Which metric to draw.
    ax : matplotlib Axes, optional
        Draw into this Axes instead of a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> from anomaly.plotting import plot_comparison
    >>> table = pd.DataFrame(dict(detector=["a", "b"], dataset="d", metric="roc_auc",
    ...                           value=[0.9, 0.7]))
    >>> fig = plot_comparison(table)
    >>> [round(float(bar.get_height()), 1) for bar in fig.axes[0].patches]
    [0.9, 0.7]
    """
    rows = table[table["metric"] == metric]
    if rows.empty:
        raise ValueError(f"The table has no rows for metric {metric!r}.")
    if "dataset" not in rows:  # e.g. compare_generative's table, of one dataset
        rows = rows.assign(dataset=metric)
    grouped = rows.groupby(["dataset", "detector"], sort=False)["value"]
    means = grouped.mean().unstack("detector")
    spread = grouped.std().unstack("detector").fillna(0.0)
    fig, ax = _figure_and_axes(ax, (max(5.0, 1.2 * len(means) * len(means.columns) / 2), 4))
    width = 0.8 / len(means.columns)
    positions = np.arange(len(means))
    for i, detector in enumerate(means.columns):
        ax.bar(
            positions + i * width,
            means[detector].to_numpy(),
            width,
            yerr=spread[detector].to_numpy(),
            label=str(detector),
        )
    ax.set_xticks(positions + width * (len(means.columns) - 1) / 2, [str(d) for d in means.index])
    # A share's axis from 0 to 1; any other metric's (log-likelihoods may be negative) free.
    share = 0 <= np.nanmin(means.to_numpy()) and np.nanmax(means.to_numpy()) <= 1
    ax.set(ylabel=metric, ylim=(0, 1.05) if share else None)
    ax.legend(fontsize=8, ncols=min(4, len(means.columns)))
    return fig
