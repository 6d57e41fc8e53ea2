"""Plots render to files and show what they say."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from anomaly import VAEDetector
from anomaly.plotting import (
    plot_comparison,
    plot_image_grid,
    plot_latent_projection,
    plot_reconstructions,
    plot_roc_curves,
)
from tests.conftest import bar_images


@pytest.mark.parametrize("channels", [None, 3])
def test_reconstruction_grid_renders(tmp_path, channels):
    images, _, _ = bar_images(n_normal=60, n_anomalous=4, channels=channels)
    detector = VAEDetector(conv_channels=(4,), latent_dim=2, epochs=1, n_draws=2, random_state=0)
    fig = plot_reconstructions(detector.fit(images), images, n_images=5)
    assert isinstance(fig, Figure) and len(fig.axes) == 15
    fig.savefig(tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 0


def test_colour_images_are_shown_on_their_own_scale():
    # 8-bit colour: imshow does not scale colour images, so they are scaled before it.
    image = np.random.default_rng(0).integers(0, 256, size=(3, 6, 5)).astype(np.uint8)
    fig = plot_image_grid(image[None])
    shown = fig.axes[0].get_images()[0].get_array()
    assert shown.shape == (6, 5, 3)
    np.testing.assert_allclose(shown, (image.transpose(1, 2, 0) - image.min()) / np.ptp(image))


def test_images_with_a_missing_pixel_keep_their_grey_scale():
    images, _, _ = bar_images(n_normal=30, n_anomalous=0)
    images[::2, 3, 3] = np.nan
    detector = VAEDetector(
        conv_channels=(4,),
        latent_dim=2,
        epochs=1,
        n_draws=2,
        missing="marginalize",
        random_state=0,
    ).fit(images)
    fig = plot_reconstructions(detector, images, n_images=2)
    assert all(np.isfinite(ax.get_images()[0].get_clim()).all() for ax in fig.axes[:4])
    assert np.isfinite(plot_image_grid(images[:4]).axes[0].get_images()[0].get_clim()).all()


def test_boolean_colour_images_are_shown():
    image = np.random.default_rng(0).uniform(size=(3, 6, 5)) > 0.5
    shown = plot_image_grid(image[None]).axes[0].get_images()[0].get_array()
    np.testing.assert_array_equal(shown, image.transpose(1, 2, 0))


def test_reconstruct_returns_input_units(make):
    images, _, _ = bar_images(n_normal=60, n_anomalous=0, channels=2)
    detector = make(conv_channels=(4,), latent_dim=2, epochs=1).fit(images * 10 + 3)
    reconstructions = detector.reconstruct(images * 10 + 3)
    assert reconstructions.shape == images.shape
    # Standardisation is undone: the reconstructions live near the data, not near 0.
    assert abs(reconstructions.mean() - (images * 10 + 3).mean()) < 2


def test_roc_curves_render_with_their_auc(tmp_path):
    y = np.array([0, 0, 0, 1, 1])
    # Anomaly scores: higher = more abnormal, as the metrics take them.
    fig = plot_roc_curves(y, {"good": [1, 2, 3, 4, 5], "bad": [5, 4, 3, 2, 1]})
    labels = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert labels == ["good (ROC-AUC 1.000)", "bad (ROC-AUC 0.000)", "chance"]
    fig.savefig(tmp_path / "roc.png")
    assert (tmp_path / "roc.png").stat().st_size > 0


def test_every_comparison_plot_renders_to_a_file(tmp_path):
    import pandas as pd

    from anomaly.plotting import (
        plot_comparison,
        plot_pr_curves,
        plot_score_distributions,
        plot_timeline,
    )

    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(90, dtype=int), np.ones(10, dtype=int)]
    scores = y * 2.0 + rng.normal(size=100)  # anomaly scores: higher = more abnormal
    table = pd.DataFrame(
        dict(
            detector=["a", "b", "a", "b"] * 2,
            dataset=["x", "x", "y", "y"] * 2,
            seed=[0] * 4 + [1] * 4,
            metric="roc_auc",
            value=[0.9, 0.7, 0.8, 0.6, 0.92, 0.72, 0.82, 0.62],
        )
    )
    series = pd.DataFrame({"cpu": np.sin(np.arange(100) / 5), "mem": np.cos(np.arange(100) / 7)})
    figures = {
        "pr": plot_pr_curves(y, {"noisy": scores, "perfect": y.astype(float)}),
        "hist": plot_score_distributions(y, scores),
        "timeline": plot_timeline(series, scores, labels=y, threshold=1.0),
        "bars": plot_comparison(table),
    }
    for name, fig in figures.items():
        assert isinstance(fig, Figure)
        fig.savefig(tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
    # The bars are the seed means, with the seeds' spread as error bars.
    heights = [round(float(bar.get_height()), 2) for bar in figures["bars"].axes[0].patches]
    assert heights == [0.91, 0.81, 0.71, 0.61]
    labels = [t.get_text() for t in figures["pr"].axes[0].get_legend().get_texts()]
    assert labels[1] == "perfect (PR-AUC 1.000)" and labels[2] == "chance (0.100)"
    # One shaded window (steps 90-99) on each panel of the timeline.
    assert [len(ax.patches) for ax in figures["timeline"].axes] == [1, 1]


def test_comparison_plot_needs_the_metric():
    import pandas as pd

    from anomaly.plotting import plot_comparison

    table = pd.DataFrame(dict(detector=["a"], dataset="d", metric="roc_auc", value=[0.9]))
    with pytest.raises(ValueError, match="no rows for metric 'pr_auc'"):
        plot_comparison(table, metric="pr_auc")


def test_timeline_shades_single_steps_and_the_last_step():
    from anomaly.plotting import plot_timeline

    labels = np.zeros(20, dtype=int)
    labels[[5, 19]] = 1
    fig = plot_timeline(np.arange(20.0), np.zeros(20), labels=labels)
    spans = [patch.get_x() for patch in fig.axes[0].patches]
    widths = [patch.get_width() for patch in fig.axes[0].patches]
    assert spans == [5, 19] and widths == [1, 1]


def test_generative_plots_of_a_fitted_detector():
    images = np.random.default_rng(0).random((30, 1, 8, 8)).astype(np.float32)
    detector = VAEDetector(epochs=1, latent_dim=3, random_state=0).fit(images)
    assert len(plot_image_grid(detector.sample(6, random_state=0), n_cols=3).axes) == 6
    path = detector.interpolate(images[0], images[1], n_steps=5)
    assert len(plot_image_grid(path, n_cols=5).axes) == 5
    fig = plot_latent_projection(detector.transform(images), np.arange(30) % 2)
    assert len(fig.axes[0].collections) == 2
    # compare_generative's table has no dataset column: one group, seeds as error bars.
    table = pd.DataFrame(
        dict(
            detector=["VAE", "VAE", "GAN"],
            seed=[0, 1, 0],
            metric="precision",
            value=[0.2, 0.4, 0.5],
        )
    )
    bars = plot_comparison(table, metric="precision").axes[0].patches
    assert [round(float(bar.get_height()), 2) for bar in bars] == [0.3, 0.5]


def test_a_metric_with_negative_values_shows_every_bar():
    table = pd.DataFrame(
        dict(detector=["VAE", "GAN"], seed=0, metric="parzen", value=[-0.041, 0.130])
    )
    ax = plot_comparison(table, metric="parzen").axes[0]
    assert ax.get_ylim()[0] < -0.041


def test_timeline_with_time_zone_aware_timestamps_shades_the_last_step():
    from anomaly.plotting import plot_timeline

    labels = np.zeros(20, dtype=int)
    labels[[5, 19]] = 1
    stamps = pd.date_range("2024-01-01", periods=20, freq="h", tz="Europe/Paris")
    fig = plot_timeline(np.arange(20.0), np.zeros(20), labels=labels, timestamps=stamps)
    assert [round(patch.get_width(), 4) for patch in fig.axes[0].patches] == [0.0417, 0.0417]


def test_timeline_with_text_timestamps_and_labels():
    from anomaly.plotting import plot_timeline

    stamps = pd.date_range("2024-03-01", periods=6, freq="min").strftime("%Y-%m-%d %H:%M:%S")
    fig = plot_timeline(np.arange(6.0), np.zeros(6), labels=[0, 0, 1, 1, 0, 0], timestamps=stamps)
    assert len(fig.axes[0].patches) == 1
    # Text that is not times: a categorical axis, spans from label to label.
    fig = plot_timeline(
        np.arange(6.0), np.zeros(6), labels=[0, 0, 1, 1, 0, 0], timestamps=list("abcdef")
    )
    assert len(fig.axes[0].patches) == 1


@pytest.mark.parametrize("shape", [(20, 1), (1, 3)])
def test_latent_projection_of_one_dimension_or_one_code(shape):
    codes = np.random.default_rng(0).normal(size=shape)
    fig = plot_latent_projection(codes, np.arange(shape[0]) % 2)
    assert sum(len(c.get_offsets()) for c in fig.axes[0].collections) == shape[0]


def test_score_distribution_legend_counts_the_scores_drawn():
    from anomaly.plotting import plot_score_distributions

    fig = plot_score_distributions([0, 1, 0, 1, 1], [0.1, np.nan, 0.2, 1.0, np.inf])
    labels = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert labels == ["normal (2)", "anomalous (1)"]


def test_timeline_across_a_change_to_daylight_saving_time_is_a_time_axis():
    from anomaly.plotting import plot_timeline

    stamps = pd.date_range("2024-03-31 00:00", periods=240, freq="min", tz="Europe/Paris")
    text = stamps.strftime("%Y-%m-%dT%H:%M:%S%z")  # +0100, then +0200: as a CSV holds them
    assert text[0].endswith("+0100") and text[-1].endswith("+0200")
    fig = plot_timeline(np.arange(240.0), np.zeros(240), timestamps=text)
    line = fig.axes[1].get_lines()[0].get_xdata()
    assert np.issubdtype(np.asarray(line).dtype, np.datetime64)
    assert len(fig.axes[1].get_xticks()) < 20


def test_timeline_with_text_that_is_not_times_shades_the_last_step_and_labels_few_ticks():
    from anomaly.plotting import plot_timeline

    labels = np.zeros(500, dtype=int)
    labels[-1] = 1
    names = [f"step-{k}" for k in range(500)]
    fig = plot_timeline(np.arange(500.0), np.zeros(500), labels=labels, timestamps=names)
    assert [(patch.get_x(), patch.get_width()) for patch in fig.axes[0].patches] == [(499, 1)]
    fig.canvas.draw()  # the tick labels are the text
    ticks = [label.get_text() for label in fig.axes[1].get_xticklabels() if label.get_text()]
    assert 2 < len(ticks) <= 10 and all(tick.startswith("step-") for tick in ticks)

    # Zoomed in between two steps: only whole positions are labelled.
    def shown(low, high):
        fig.axes[1].set_xlim(low, high)
        fig.canvas.draw()
        return [
            label.get_text()
            for label in fig.axes[1].get_xticklabels()
            if low <= label.get_position()[0] <= high and label.get_text()
        ]

    assert shown(2.1, 2.9) == []
    assert shown(1.8, 3.2) == ["step-2", "step-3"]


def test_timeline_keeps_naive_and_offset_timestamps_apart():
    from anomaly.plotting import plot_timeline

    # Not all with an offset: not read as UTC (the naive ones would be taken as UTC).
    text = ["2020-01-01T00:00", "2020-01-01T01:00+01:00", "2020-01-01T02:00"]
    fig = plot_timeline(np.arange(3.0), np.zeros(3), timestamps=text)
    assert list(fig.axes[1].get_lines()[0].get_xdata()) == [0, 1, 2]
    fig = plot_timeline(np.arange(2.0), np.zeros(2), timestamps=np.array([b"a", b"b"]))
    fig.canvas.draw()
    assert "a" in [label.get_text() for label in fig.axes[1].get_xticklabels()]


@pytest.mark.parametrize("labels", [[-1, 1, -1, 1], ["0", "1", "0", "1"]])
def test_label_plots_refuse_labels_other_than_0_and_1(labels):
    from anomaly.plotting import plot_pr_curves, plot_score_distributions

    scores = [0.1, 0.9, 0.2, 0.8]
    for plot in (plot_score_distributions, plot_roc_curves):
        with pytest.raises(ValueError, match="must hold only 0 and 1"):
            plot(labels, scores if plot is plot_score_distributions else {"a": scores})
    with pytest.raises(ValueError, match="must hold only 0 and 1"):
        plot_pr_curves(labels, {"a": scores})


def test_plots_of_scores_beyond_a_models_arithmetic():
    from anomaly.plotting import plot_pr_curves, plot_score_distributions

    # anomaly_scores gives the largest float for a score of -inf, -score_samples gives inf.
    scores = np.r_[np.linspace(0, 1, 50), np.finfo(float).max]
    fig = plot_score_distributions(np.r_[np.zeros(50, int), 1], scores, bins=10)
    assert fig.axes[0].patches[0].get_width() == pytest.approx(0.1)  # bins over 0..1
    raw = np.r_[np.linspace(0, 1, 50), np.inf]
    labels = np.r_[np.zeros(50, int), 1]
    fig = plot_pr_curves(labels, {"raw": raw})
    assert "PR-AUC 1.000" in fig.axes[0].get_legend().get_texts()[0].get_text()
    plot_roc_curves(labels, {"raw": -raw})


def test_plots_into_a_subfigure_return_the_figure():
    from anomaly.plotting import plot_score_distributions

    figure = Figure()
    ax = figure.subfigures(1, 2)[0].add_subplot()
    assert plot_score_distributions([0, 1], [0.0, 1.0], ax=ax) is figure
    assert plot_roc_curves([0, 1], {"a": [0.0, 1.0]}, ax=ax) is figure


def test_latent_projection_draws_missing_and_mixed_labels():
    codes = np.random.default_rng(0).normal(size=(6, 2))
    fig = plot_latent_projection(codes, np.array([1.0, 2.0, np.nan, 1.0, np.nan, 2.0]))
    assert [len(c.get_offsets()) for c in fig.axes[0].collections] == [2, 2, 2]
    fig = plot_latent_projection(codes, np.array(["a", None, "b", "a", None, "b"], dtype=object))
    assert [len(c.get_offsets()) for c in fig.axes[0].collections] == [2, 2, 2]
