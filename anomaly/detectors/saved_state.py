"""How a network detector's fitted state is saved, loaded and pickled.

The model file (:mod:`anomaly.model_file`) holds the network's tensors and the
hyper-parameters and fitted attributes (``_persisted_attributes``) as JSON; a
pickle carries the weights as CPU tensors. Files and pickles from earlier
versions load with the values that score them as they were saved.
"""

from __future__ import annotations

import json
import os
from numbers import Integral
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from anomaly._warnings import warn_at_caller
from anomaly.model_file import ModelFile, check_own_class, to_json, write_model_file
from anomaly.training import resolve_device

if TYPE_CHECKING:  # typing.Self is Python 3.11's; the package supports 3.10
    from typing_extensions import Self

__all__ = ["SavedStateMixin", "loaded_parameters", "saved_parameters"]

_NETWORK_PREFIX = "network."
_ATTRIBUTE_PREFIX = "attribute."
# Model files of format version 1 hold MLP models of rows, without these attributes.
_VERSION_1_ATTRIBUTES = {"image_shape_": None, "window_shape_": None, "backbone_": "mlp"}
# Renamed in format version 3: `score` is scikit-learn's method, `n_samples` a number of rows.
_RENAMED_IN_VERSION_3 = {"score": "scoring_rule", "n_samples": "n_draws"}
# Parameters and fitted attributes added since models were first saved: a model saved or
# pickled without one takes the value that scores it as it was saved, not today's default.
_ADDED_PARAMETERS = {
    "tol": 0.0,
    "patch_size": None,
    "n_neighbors": None,
    "synthetic_defects": False,
}
_ADDED_ATTRIBUTES = {
    "patch_size_": None,
    "n_neighbors_": None,
    "image_score_scales_": None,
    "segmenter_standardization_": None,
}


def saved_parameters(params: dict) -> dict:
    """Parameters as a model file holds them: a RandomState, which only matters at fit (the
    saved model's scores come from ``scoring_seed_``), as None."""
    if not isinstance(params.get("random_state"), (Integral, type(None))):
        params = {**params, "random_state": None}
    return params


def loaded_parameters(params: dict) -> dict:
    """Parameters read back from JSON: lists (JSON's arrays) as the tuples they were."""
    return {
        key: tuple(value) if isinstance(value, list) else value for key, value in params.items()
    }


class SavedStateMixin:
    """``save``, the model file's content and pickling of a detector with a ``network_``."""

    # Fitted attributes that, with the network's weights, make up a saved model.
    _persisted_attributes: ClassVar[tuple[str, ...]] = ()
    # Parameters one class added since models were first saved, as _ADDED_PARAMETERS.
    _added_parameters: ClassVar[dict] = {}

    def save(self, path: str | os.PathLike) -> None:
        """Save the fitted detector to ``path`` in a format that runs no code on load.

        The file holds the network's tensors in safetensors format, with the
        hyper-parameters and the fitted state as JSON in its header. Open it
        with :func:`anomaly.load`.

        Parameters
        ----------
        path : str or path-like
            Destination file; written to a temporary file first and renamed, so
            a failure leaves no partial file.
        """
        write_model_file(path, *self._model_file_content())

    def _model_file_content(self) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
        """The header fields and tensors of this detector's model file."""
        check_own_class(self)
        check_is_fitted(self)
        tensors = {
            _NETWORK_PREFIX + name: value for name, value in self.network_.state_dict().items()
        }
        attributes = {}
        for name in self._persisted_attributes:
            if not hasattr(self, name):
                continue
            value = getattr(self, name)
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                tensors[_ATTRIBUTE_PREFIX + name] = torch.from_numpy(np.ascontiguousarray(value))
            else:
                attributes[name] = value
        # The parameters it was fitted with, and as set since (contamination, which an update
        # reads, or any other): a loaded model is the one saved, as a pickled one is. Checked,
        # as fit would: a value set since that load would refuse is refused here.
        self._validate_params()
        fields = {
            "class": type(self).__name__,
            "params": to_json(saved_parameters(self.fitted_params_)),
            "settings": to_json(saved_parameters(self.get_params(deep=False))),
            "attributes": to_json(attributes),
        }
        return fields, tensors

    @classmethod
    def _from_model_file(cls, model: ModelFile, *, device: str | None = None) -> Self:
        """The fitted detector saved in ``model`` (see :meth:`save`), on ``device``."""
        try:
            params = loaded_parameters(json.loads(model.fields["params"]))
            if model.version < 3:
                params = {_RENAMED_IN_VERSION_3.get(k, k): v for k, v in params.items()}
            added = {**_ADDED_PARAMETERS, **cls._added_parameters}
            params = {**added, **params}
            attributes = {**_ADDED_ATTRIBUTES, **json.loads(model.fields["attributes"])}
            fitted = cls(**params)
            fitted._validate_params()
            # Files from before settings were saved: the parameters as fitted.
            settings = model.fields.get("settings")
            if settings is None:
                detector = fitted
            else:
                detector = cls(**{**added, **loaded_parameters(json.loads(settings))})
                detector._validate_params()
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as err:
            raise ValueError(f"parameters {type(err).__name__}: {err}") from None
        # Parameters added since the file was written: _ADDED_PARAMETERS' values, or defaults.
        detector.fitted_params_ = {**fitted.get_params(deep=False), **params}
        if model.version == 1:
            attributes = {**_VERSION_1_ATTRIBUTES, **attributes}
        network_state = {}
        for key, tensor in model.tensors.items():
            if key.startswith(_ATTRIBUTE_PREFIX):
                attributes[key.removeprefix(_ATTRIBUTE_PREFIX)] = tensor.numpy()
            else:
                network_state[key.removeprefix(_NETWORK_PREFIX)] = tensor
        unexpected = set(attributes) - set(cls._persisted_attributes)
        if unexpected:
            raise ValueError(f"unexpected attributes {sorted(unexpected)}")
        for name, value in attributes.items():
            if name == "feature_names_in_":
                value = np.asarray(value, dtype=object)
            elif name in ("image_shape_", "window_shape_", "patch_size_") and value is not None:
                value = tuple(value)
            setattr(detector, name, value)
        try:
            detector._restore_network(network_state, device)
        except RuntimeError as err:  # tensors that do not fit the network the header describes
            raise ValueError(f"weights that do not fit its network: {err}") from None
        return detector

    def __getstate__(self) -> dict:
        # Weights travel as CPU tensors so a model trained on a GPU unpickles anywhere.
        state = dict(super().__getstate__())  # a copy: object.__getstate__ returns __dict__ itself
        network = state.pop("network_", None)
        if network is not None:
            state["_network_state"] = {k: v.cpu() for k, v in network.state_dict().items()}
        return state

    def __setstate__(self, state: dict) -> None:
        network_state = state.pop("_network_state", None)
        for name, value in {**_ADDED_PARAMETERS, **self._added_parameters}.items():
            if name not in state:
                state[name] = value
                if "fitted_params_" in state:
                    state["fitted_params_"] = {**state["fitted_params_"], name: value}
        if "fitted_params_" in state:
            state = {**_ADDED_ATTRIBUTES, **state}
        super().__setstate__(state)
        if network_state is not None:
            self._restore_network(network_state)

    def _restore_network(
        self,
        network_state: dict[str, torch.Tensor],
        device: str | None = None,
    ) -> None:
        """Rebuild ``network_`` from saved weights, on ``device`` or the fitted one."""
        try:
            target = resolve_device(device or self.fitted_params_["device"])
        except ValueError as err:
            if device is not None:  # asked for, not the fitted one: refused, as at fit
                raise
            warn_at_caller(f"{err} The model is restored on the CPU instead.")
            target = torch.device("cpu")
        # Rows' models saved before the missing values' mask became a shift have no mixing.
        self._mask_beside_values = self._allows_missing(reset=False) and not any(
            key.endswith(".mixing") for key in network_state
        )
        # Built on the meta device: no random initialisation to overwrite.
        with torch.device("meta"):
            network = self._build_fitted_network()
        network.load_state_dict(network_state, assign=True)
        self.network_ = network.to(target).eval()
