import torch

from anomaly.networks import MLP, MaskBesideValuesEncoder, MissingValueEncoder


def test_a_gap_is_shifted_by_its_column_of_the_mixing():
    seen = []

    class Recorder(torch.nn.Module):
        def forward(self, x):
            seen.append(x)
            return x

    encoder = MissingValueEncoder(Recorder(), n_features=3)
    with torch.no_grad():
        encoder.mixing.copy_(torch.arange(9.0).view(3, 3))
    x = torch.tensor([[0.5, float("nan"), 1.0], [2.0, 3.0, 4.0]])
    encoder(x)
    # The second value is missing: every value moves by the mixing's second column.
    torch.testing.assert_close(seen[0], torch.tensor([[1.5, 4.0, 8.0], [2.0, 3.0, 4.0]]))


def test_the_mask_beside_the_values_marks_the_observed_ones():
    encoder = MaskBesideValuesEncoder(MLP(4, (8,), 2))
    assert encoder(torch.tensor([[float("nan"), 1.0]])).shape == (1, 2)


def test_without_gaps_the_mixing_gets_no_gradient():
    # Not even a zero one: it would enter gradient clipping's total norm.
    encoder = MissingValueEncoder(MLP(3, (8,), 2), n_features=3)
    encoder(torch.ones(4, 3)).sum().backward()
    assert encoder.mixing.grad is None
    encoder(torch.tensor([[1.0, float("nan"), 2.0]])).sum().backward()
    assert encoder.mixing.grad is not None
