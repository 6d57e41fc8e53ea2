"""Warnings at the user's line (anomaly/_warnings.py)."""

import warnings

import pytest

from anomaly._warnings import warn_at_caller


def _called_from(module: str):
    """A function that calls warn_at_caller as code of ``module`` would."""
    namespace = {"__name__": module, "warn_at_caller": warn_at_caller}
    exec("def relay(): warn_at_caller('careful')", namespace)
    return namespace["relay"]


@pytest.mark.parametrize("module", ["anomaly.detectors.fake", "sklearn.base", "joblib.parallel"])
def test_the_warning_passes_over_the_package_scikit_learn_and_joblib(module):
    with pytest.warns(UserWarning, match="careful") as caught:
        _called_from(module)()
    assert caught[0].filename == __file__


def test_a_package_named_alike_is_the_users():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _called_from("anomaly_extra.module")()
    assert caught[0].filename == "<string>"  # the relay's own line, in the user's package
