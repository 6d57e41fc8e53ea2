"""scikit-learn's own estimator checks over every public detector."""

import inspect

from sklearn.utils.estimator_checks import parametrize_with_checks

import anomaly
from anomaly.base import BaseDetector

# Small networks and few epochs keep the ~50 checks per detector fast; the
# checks exercise the API, not detection quality.
SMALL = {
    anomaly.VAEDetector: dict(
        hidden_sizes=(16,), latent_dim=2, epochs=3, n_samples=4, device="cpu"
    ),
    anomaly.VAEGANDetector: dict(
        hidden_sizes=(16,), latent_dim=2, epochs=3, n_samples=4, device="cpu"
    ),
    anomaly.GANDetector: dict(
        hidden_sizes=(16,), latent_dim=2, epochs=3, anogan_steps=5, score="anogan", device="cpu"
    ),
}
DETECTORS = [cls(**params) for cls, params in SMALL.items()]

SCORE_PARAMETER = (
    "the check calls any attribute named `score` as a method (`score(X, y)`); our detectors "
    "name their scoring rule `score=` (a string), as outlier detectors need no `score` method. "
    "What these checks would verify (y accepted by fit, n_features_in_ checked by every "
    "method, same results inside a Pipeline) is tested in tests/test_base.py."
)


def expected_failed_checks(estimator):
    return {
        "check_fit_score_takes_y": SCORE_PARAMETER,
        "check_n_features_in_after_fitting": SCORE_PARAMETER,
        "check_pipeline_consistency": SCORE_PARAMETER,
    }


def test_every_public_detector_is_checked():
    public = {
        obj
        for obj in vars(anomaly).values()
        if inspect.isclass(obj) and issubclass(obj, BaseDetector)
    }
    assert public == set(SMALL)


@parametrize_with_checks(DETECTORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
