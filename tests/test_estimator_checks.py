"""scikit-learn's own estimator checks over every public detector."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from anomaly import VAEDetector

# Small networks and few epochs keep the ~50 checks per detector fast; the
# checks exercise the API, not detection quality.
DETECTORS = [VAEDetector(hidden_sizes=(16,), latent_dim=2, epochs=3, n_samples=4, device="cpu")]

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


@parametrize_with_checks(DETECTORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
