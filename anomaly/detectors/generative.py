"""The generative side of every network detector: samples, latent codes, decoding.

Each detector names its encoder and decoder (``_encode_batch``, ``_decode_batch``):
the VAE's posterior mean and decoded mean, the GAN's f-AnoGAN encoder and
generator, the VAE-GAN's VAE. This mixin turns them into the scikit-learn
``transform`` / ``inverse_transform`` pair and ``sample``, in the input's units.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import Tags, TransformerTags, check_array, check_random_state, check_scalar
from sklearn.utils.validation import check_is_fitted

__all__ = ["GenerativeMixin"]


class GenerativeMixin(ClassNamePrefixFeaturesOutMixin, TransformerMixin):
    """``sample``, ``transform`` and ``inverse_transform`` over a detector's encoder and decoder;
    ``set_output`` and ``get_feature_names_out`` for the codes, as in scikit-learn's
    transformers (so that a pipeline ending in a detector takes ``set_output``)."""

    def __sklearn_tags__(self) -> Tags:
        # A transformer too (to latent codes): scikit-learn then checks transform as one.
        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags()
        return tags

    def sample(self, n_samples: int, random_state: Any = None) -> np.ndarray:
        """Draw samples from the model: latent codes from N(0, I), decoded.

        The VAE-type detectors return the decoded mean of each draw (the
        likelihood's noise left out), the GAN its generator's output.

        Parameters
        ----------
        n_samples : int
            How many samples to draw.
        random_state : int, RandomState instance or None, default=None
            Seeds the latent draws.

        Returns
        -------
        samples : ndarray
            In the input's units, shaped as :meth:`reconstruct` returns
            samples: (n_samples, n_features) for rows, (n_samples, channels,
            height, width) for images; of a patch's size when the detector
            was fitted on patches, and then in the lighting-normalised units
            its network sees (as :meth:`reconstruct` gives patches: each
            image's own lighting cannot be restored to a drawn patch).
        """
        check_is_fitted(self)
        check_scalar(n_samples, "n_samples", Integral, min_val=1)
        seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
        generator = torch.Generator().manual_seed(int(seed))
        codes = torch.randn(n_samples, self._latent_dim(), generator=generator)
        return self.inverse_transform(codes.numpy())

    def transform(self, X: Any) -> np.ndarray:
        """Latent codes of samples: the VAE's posterior means, the GAN's encoder's output.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or images
            Samples as for ``score_samples`` (not for a detector fitted on
            patches of images).

        Returns
        -------
        codes : ndarray of shape (n_samples, latent_dim)
        """
        check_is_fitted(self)
        self._check_whole_samples("transform")
        X = self._validate_input(X, reset=False)
        return self._blockwise(X, self._encode_batch, "encoding")

    def fit_transform(self, X: Any, y: None = None) -> np.ndarray:
        """``fit(X)``, then the latent codes of ``X`` (see :meth:`transform`)."""
        return self.fit(X, y).transform(X)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Decode latent codes into samples in the input's units (see :meth:`sample`).

        Parameters
        ----------
        X : array-like of shape (n_samples, latent_dim)
            Latent codes, e.g. from :meth:`transform`.

        Returns
        -------
        samples : ndarray
            Shaped as :meth:`sample` returns them.
        """
        check_is_fitted(self)
        codes = check_array(X, dtype=np.float32)
        if codes.shape[1] != self._latent_dim():
            raise ValueError(
                f"X has {codes.shape[1]} latent dimensions; this detector has {self._latent_dim()}."
            )
        flat = self._blockwise(codes, self._decode_batch, "decoding", standardized=True)
        flat = flat * self.feature_scale_ + self.feature_mean_
        return flat if self.image_shape_ is None else flat.reshape(len(codes), *self.image_shape_)

    def interpolate(self, start: Any, end: Any, n_steps: int = 8) -> np.ndarray:
        """Samples decoded along the straight line between two samples' latent codes.

        Parameters
        ----------
        start, end : array-like
            One sample each: a row of shape (n_features,), or one image.
        n_steps : int, default=8
            Points on the line, both ends included.

        Returns
        -------
        samples : ndarray
            ``n_steps`` samples, shaped as :meth:`sample` returns them; the
            first and last are the two samples' decoded codes.
        """
        # An array whatever set_output asks of transform.
        codes = np.asarray(self.transform(np.stack([np.asarray(start), np.asarray(end)])))
        weights = np.linspace(0.0, 1.0, n_steps)[:, None]
        return self.inverse_transform((1 - weights) * codes[0] + weights * codes[1])

    def _latent_dim(self) -> int:
        return int(self.fitted_params_["latent_dim"])

    @property
    def _n_features_out(self) -> int:
        """The codes' width, for ``get_feature_names_out``."""
        return self._latent_dim()

    def _encode_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """Latent codes of a standardised batch."""
        raise NotImplementedError

    def _decode_batch(self, codes: torch.Tensor) -> torch.Tensor:
        """Standardised samples decoded from latent codes."""
        raise NotImplementedError
