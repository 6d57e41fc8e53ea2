"""What BaseDeepDetector gives every detector: trimmed training on contaminated data."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from anomaly import VAEDetector, VAEGANDetector


def tight_cluster(n_normal: int = 900, n_cluster: int = 100, seed: int = 0):
    """Rows near a 3-D subspace of 20-D space, and 10% of the rows in one tight cluster off it.

    A model that learns every training row fits the cluster best of all (it is
    dense), so it ranks the anomalies as the most normal rows.
    """
    rng = np.random.default_rng(seed)
    normal = rng.normal(size=(n_normal, 3)) @ rng.normal(size=(3, 20))
    normal += 0.1 * rng.normal(size=normal.shape)
    cluster = 2.0 * rng.choice([-1.0, 1.0], size=20) + 0.05 * rng.normal(size=(n_cluster, 20))
    return np.r_[normal, cluster], np.r_[np.zeros(n_normal, int), np.ones(n_cluster, int)]


@pytest.mark.parametrize("detector_class", [VAEDetector, VAEGANDetector])
@pytest.mark.parametrize("seed", [0, 1])
def test_trimmed_training_ranks_a_tight_anomalous_cluster_as_anomalous(detector_class, seed):
    X, y = tight_cluster(seed=seed)

    def auc(trim_fraction):
        detector = detector_class(
            epochs=30, trim_fraction=trim_fraction, device="cpu", random_state=0
        ).fit(X)
        return roc_auc_score(y, -detector.score_samples(X))

    assert auc(0.0) < 0.5  # the cluster was learnt
    assert auc(0.2) > 0.95  # the default leaves it out


def test_trim_fraction_is_validated():
    with pytest.raises(ValueError, match="trim_fraction"):
        VAEDetector(trim_fraction=0.5).fit(np.zeros((10, 2)))
