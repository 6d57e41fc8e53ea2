"""Warnings that point at the user's line, however deep in the package they are raised."""

from __future__ import annotations

import sys
import warnings

# Packages whose frames a warning passes over: this one, and scikit-learn's fit wrapper,
# pipelines and searches with the joblib workers that run their folds. By module name, not
# file path: a compiled install's code objects keep the paths they were compiled at.
_PASSED_OVER = {__name__.partition(".")[0], "sklearn", "joblib"}


def warn_at_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` at the first frame outside this package, scikit-learn and joblib.

    A fixed ``stacklevel`` points inside the package when the same check is reached
    by another path (``partial_fit`` instead of ``fit``, a detector inside a
    :class:`~anomaly.TimeSeriesDetector`): Python 3.12's ``skip_file_prefixes``, by
    module for 3.11.
    """
    frame = sys._getframe(1)
    stacklevel = 2  # warn_at_caller's caller
    while frame is not None and _package(frame) in _PASSED_OVER:
        frame = frame.f_back
        stacklevel += 1
    warnings.warn(message, category, stacklevel=stacklevel)


def _package(frame) -> str:
    return str(frame.f_globals.get("__name__", "")).partition(".")[0]
