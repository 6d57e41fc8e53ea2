"""Plots render to files and show what they say."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from anomaly import VAEDetector
from anomaly.plotting import plot_reconstructions, plot_roc_curves
from tests.conftest import bar_images


@pytest.mark.parametrize("channels", [None, 3])
def test_reconstruction_grid_renders(tmp_path, channels):
    images, _, _ = bar_images(n_normal=60, n_anomalous=4, channels=channels)
    detector = VAEDetector(conv_channels=(4,), latent_dim=2, epochs=1, n_samples=2, random_state=0)
    fig = plot_reconstructions(detector.fit(images), images, n_images=5)
    assert isinstance(fig, Figure) and len(fig.axes) == 15
    fig.savefig(tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 0


def test_reconstruct_returns_input_units(make):
    images, _, _ = bar_images(n_normal=60, n_anomalous=0, channels=2)
    detector = make(conv_channels=(4,), latent_dim=2, epochs=1).fit(images * 10 + 3)
    reconstructions = detector.reconstruct(images * 10 + 3)
    assert reconstructions.shape == images.shape
    # Standardisation is undone: the reconstructions live near the data, not near 0.
    assert abs(reconstructions.mean() - (images * 10 + 3).mean()) < 2


def test_roc_curves_render_with_their_auc(tmp_path):
    y = np.array([0, 0, 0, 1, 1])
    fig = plot_roc_curves(y, {"good": [5, 4, 3, 2, 1], "bad": [1, 2, 3, 4, 5]})
    labels = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert labels == ["good (ROC-AUC 1.000)", "bad (ROC-AUC 0.000)", "chance"]
    fig.savefig(tmp_path / "roc.png")
    assert (tmp_path / "roc.png").stat().st_size > 0
