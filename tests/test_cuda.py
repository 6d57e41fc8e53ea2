"""The CUDA path: runs only where a GPU is present (CI has none; see the README)."""

import pickle

import numpy as np
import pytest
import torch

import anomaly
from tests.conftest import fast_vae

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_auto_device_trains_on_cuda_with_bf16_autocast(blobs, monkeypatch):
    dtypes = []
    original = anomaly.detectors.vae.negative_elbo

    def recording(vae, x, beta):
        loss = original(vae, x, beta)
        dtypes.append(vae.encoder[0](x).dtype)
        return loss

    monkeypatch.setattr(anomaly.detectors.vae, "negative_elbo", recording)
    detector = fast_vae(device="auto").fit(blobs)
    assert next(detector.network_.parameters()).device.type == "cuda"
    assert torch.bfloat16 in dtypes
    assert np.isfinite(detector.score_samples(blobs)).all()


def test_cuda_model_reloads_on_the_cpu(blobs, tmp_path):
    detector = fast_vae(device="cuda").fit(blobs)
    detector.save(tmp_path / "m")
    on_cpu = anomaly.load(tmp_path / "m", device="cpu")
    np.testing.assert_allclose(
        on_cpu.score_samples(blobs), detector.score_samples(blobs), rtol=1e-4
    )
    unpickled = pickle.loads(pickle.dumps(detector))
    np.testing.assert_allclose(
        unpickled.score_samples(blobs), detector.score_samples(blobs), rtol=1e-4
    )


def test_fixed_df_student_t_equals_torchs_on_cuda():
    from torch.distributions import StudentT

    from anomaly.networks.vae import STUDENT_T_DF, FixedDfStudentT

    generator = torch.Generator(device="cuda").manual_seed(0)
    loc, value = (3 * torch.randn(300, 37, device="cuda", generator=generator) for _ in "ab")
    scale = 5 * torch.rand(300, 37, device="cuda", generator=generator) + 0.01
    ours = FixedDfStudentT(STUDENT_T_DF, loc, scale).log_prob(value)
    torchs = StudentT(STUDENT_T_DF, loc, scale, validate_args=False).log_prob(value)
    assert torch.equal(ours, torchs)
