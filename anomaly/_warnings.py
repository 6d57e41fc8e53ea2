"""Warnings that point at the user's line, however deep in the package they are raised."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import sklearn

# Frames to pass over: this package's, and scikit-learn's (its fit wrapper, its pipelines).
_SKIPPED = tuple(str(Path(path).parent) + os.sep for path in (__file__, sklearn.__file__))


def warn_at_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` at the first frame outside this package and scikit-learn.

    A fixed ``stacklevel`` points inside the package when the same check is reached
    by another path (``partial_fit`` instead of ``fit``, a detector inside a
    :class:`~anomaly.TimeSeriesDetector`): Python 3.12's ``skip_file_prefixes``, by
    hand for 3.11.
    """
    frame = sys._getframe(1)
    stacklevel = 2  # warn_at_caller's caller
    while frame is not None and frame.f_code.co_filename.startswith(_SKIPPED):
        frame = frame.f_back
        stacklevel += 1
    warnings.warn(message, category, stacklevel=stacklevel)
