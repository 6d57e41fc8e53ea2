"""TSB-AD's own detectors (Liu & Paparrizos, NeurIPS 2024), run through its package as it does.

TSB-AD 1.5 (``pip install --no-deps tsb-ad==1.5`` plus the ``benchmarks``
extra, see ``benchmarks/README.md``) is written for numpy 1 and scikit-learn
< 1.6. Three import-time shims, applied here and never to TSB-AD's files,
let the detectors below run on numpy 2 and scikit-learn >= 1.6:

- ``np.Inf`` and ``np.NaN`` are gone in numpy 2 (its early stopping uses them);
- ``TSB_AD.models.distance`` imports ``arch`` at the top, though only
  distances that none of these detectors use call it: a stub stands in;
- its ``BaseDetector`` lacks ``__sklearn_tags__``, which scikit-learn's
  ``check_is_fitted`` now asks for.

The protocol is that of its ``benchmark_exp/Run_Detector_M.py`` and ``_U.py``:
every generator seeded with 2024, the hyper-parameters of ``HP_list.py``
(``Optimal_Multi_algo_HP_dict`` for several variables,
``Optimal_Uni_algo_HP_dict`` for one), semi-supervised detectors fitted on a
training part and the others on the scored series itself, and the sliding
window of ``find_length_rank`` on the first variable, which also sets VUS's
buffer. The wrapper's ``run_Semisupervise_AD`` and ``run_Unsupervise_AD``
swallow every error into a string, so the ``run_<name>`` functions are called
directly.
"""

from __future__ import annotations

import random
import sys
import types
from importlib.util import find_spec

import numpy as np
import torch

# Table names (as in TSB-AD's published results) and the wrapper's run_<name> function.
MULTIVARIATE = {
    name: name
    for name in [
        "PCA",
        "KMeansAD",
        "CNN",
        "LSTMAD",
        "USAD",
        "OmniAnomaly",
        "AutoEncoder",
        "Donut",
        "MCD",
        "COPOD",
        "IForest",
    ]
}
# Its best univariate detectors by published VUS-PR that run without downloaded weights.
UNIVARIATE = {
    "Sub-PCA": "Sub_PCA",
    "KShapeAD": "KShapeAD",
    "POLY": "POLY",
    "KMeansAD": "KMeansAD_U",
    "USAD": "USAD",
    "MatrixProfile": "MatrixProfile",
    "Sub-MCD": "Sub_MCD",
}
SEED = 2024


def available() -> bool:
    """Whether TSB-AD is installed."""
    return find_spec("TSB_AD") is not None


def _install_shims() -> None:
    for alias, value in (("Inf", np.inf), ("NaN", np.nan)):
        if alias not in np.__dict__:
            setattr(np, alias, value)
    if "arch" not in sys.modules and find_spec("arch") is None:
        stub = types.ModuleType("arch")

        def arch_model(*args, **kwargs):
            raise ImportError("arch is not installed (stubbed by benchmarks/tsb_ad.py)")

        stub.arch_model = arch_model
        sys.modules["arch"] = stub
    from sklearn.utils import Tags, TargetTags
    from TSB_AD.models.base import BaseDetector

    if "__sklearn_tags__" not in vars(BaseDetector):
        BaseDetector.__sklearn_tags__ = lambda self: Tags(
            estimator_type="outlier_detector", target_tags=TargetTags(required=False)
        )


def sliding_window(series: np.ndarray) -> int:
    """TSB-AD's window for a series: the period ``find_length_rank`` finds in its first variable."""
    from TSB_AD.utils.slidingWindows import find_length_rank

    return int(find_length_rank(np.asarray(series, dtype=float)[:, :1], rank=1))


def tsb_ad_scores(name: str, train: np.ndarray, scored: np.ndarray) -> np.ndarray:
    """Anomaly scores (higher = more abnormal) of TSB-AD's detector ``name`` over ``scored``.

    ``name`` is a key of ``MULTIVARIATE`` for several variables, of
    ``UNIVARIATE`` for one. Semi-supervised detectors are fitted on ``train``;
    the others see only ``scored``, as in TSB-AD.
    """
    _install_shims()
    from TSB_AD import model_wrapper
    from TSB_AD.HP_list import Optimal_Multi_algo_HP_dict, Optimal_Uni_algo_HP_dict

    univariate = scored.shape[1] == 1
    function = (UNIVARIATE if univariate else MULTIVARIATE)[name]
    parameters = (Optimal_Uni_algo_HP_dict if univariate else Optimal_Multi_algo_HP_dict)[function]
    random.seed(SEED)
    np.random.seed(SEED)  # noqa: NPY002 (TSB-AD draws from the legacy global generator)
    torch.manual_seed(SEED)
    run = getattr(model_wrapper, f"run_{function}")
    if function in model_wrapper.Semisupervise_AD_Pool:
        scores = run(train, scored, **parameters)
    else:
        scores = run(scored, **parameters)
    return np.asarray(scores, dtype=float).ravel()
