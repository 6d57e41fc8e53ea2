"""The VAE's output distributions."""

import pytest
import torch
from torch.distributions import StudentT

from anomaly.networks import MLP, VAE
from anomaly.networks.vae import LIKELIHOOD_OUTPUTS, STUDENT_T_DF, FixedDfStudentT


def test_fixed_df_student_t_log_density_equals_torchs_to_the_bit():
    # Models saved before it score as they did: the same float32 operations, in the same order.
    generator = torch.Generator().manual_seed(0)
    loc = 3 * torch.randn(500, 37, generator=generator)
    scale = 5 * torch.rand(500, 37, generator=generator) + 0.01
    value = 10 * torch.randn(500, 37, generator=generator)
    ours = FixedDfStudentT(STUDENT_T_DF, loc, scale)
    torchs = StudentT(STUDENT_T_DF, loc, scale, validate_args=False)
    assert torch.equal(ours.log_prob(value), torchs.log_prob(value))
    assert torch.equal(ours.mean, torchs.mean) and torch.equal(ours.variance, torchs.variance)
    assert ours.rsample((2,)).shape == (2, 500, 37)


@pytest.mark.parametrize("likelihood", sorted(LIKELIHOOD_OUTPUTS))
def test_decoded_mean_is_the_likelihoods_mean(likelihood):
    torch.manual_seed(0)
    outputs = LIKELIHOOD_OUTPUTS[likelihood] * 5
    vae = VAE(MLP(5, (16,), 2 * 3), MLP(3, (16,), outputs), likelihood=likelihood)
    z = torch.randn(7, 3)
    assert torch.equal(vae.decoded_mean(z), vae.likelihood(z).mean)
