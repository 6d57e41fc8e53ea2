"""The shared training loop (anomaly/training.py)."""

import numpy as np
import pytest
import torch
from torch import nn

from anomaly.detectors import base as detector_base
from anomaly.training import Objective, Phase, TrainingConfig, resolve_device, train
from tests.conftest import fast_gan, fast_vae


@pytest.mark.parametrize("available, expected", [(True, "cuda"), (False, "cpu")])
def test_auto_device_is_cuda_exactly_when_available(available, expected, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
    assert resolve_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_a_clear_error(blobs):
    with pytest.raises(ValueError, match="CUDA is not available"):
        fast_vae(device="cuda").fit(blobs)


def test_unknown_device_is_a_clear_error(blobs):
    with pytest.raises(ValueError, match="not a valid torch device"):
        fast_vae(device="gpu0").fit(blobs)


def test_random_state_reproduces_to_the_bit(blobs):
    first, second = fast_vae(random_state=3).fit(blobs), fast_vae(random_state=3).fit(blobs)
    assert first.history_ == second.history_
    np.testing.assert_array_equal(first.score_samples(blobs), second.score_samples(blobs))
    other = fast_vae(random_state=4).fit(blobs)
    assert not np.array_equal(other.score_samples(blobs), first.score_samples(blobs))


def test_fit_leaves_global_generators_alone(blobs):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fast_vae().fit(blobs)
    assert torch.equal(torch.rand(3), expected)


def test_history_has_one_loss_per_epoch_and_learns(blobs):
    history = fast_vae(epochs=30).fit(blobs).history_
    assert list(history) == ["loss"]
    assert len(history["loss"]) == 30
    assert history["loss"][-1] < history["loss"][0]


def test_verbose_shows_a_progress_bar_with_the_loss(blobs, capsys):
    fast_vae(verbose=True).fit(blobs)
    err = capsys.readouterr().err
    assert "VAEDetector" in err and "loss=" in err and "epoch" in err


def test_diverging_loss_names_the_epoch(blobs):
    # Unscaled values near float32's limit overflow the squared residuals.
    with pytest.raises(
        FloatingPointError, match=r"diverged in epoch 1: loss = (inf|nan)\. Lower learning_rate"
    ):
        fast_vae(standardize=False).fit(blobs * 1e30)


class _Scalar(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))


def test_early_stopping_restores_the_best_weights():
    # Training pulls w towards 1 while the validation loss w**2 only grows, so the
    # best validation loss is after epoch 1 and training stops 3 epochs later.
    network = _Scalar()

    def loss(batch):
        return (network.w - 1) ** 2 if network.training else network.w**2

    config = TrainingConfig(
        epochs=100, batch_size=10, learning_rate=0.1, validation_fraction=0.2, n_iter_no_change=3
    )
    history = train(
        Phase(network, [Objective("loss", [network.w], loss)]),
        torch.zeros(50, 1),
        config,
        device=torch.device("cpu"),
        generator=torch.Generator().manual_seed(0),
    )
    assert len(history["loss"]) == len(history["val_loss"]) == 4
    assert network.w.item() ** 2 == pytest.approx(history["val_loss"][0])
    assert not network.training


def test_a_stopping_loss_decides_alone_when_training_stops():
    # The objective pulls w towards 1 and improves on the held-out rows every epoch;
    # the stopping loss w**2 only grows: training stops on it, 3 epochs after the first.
    network = _Scalar()
    objective = Objective("loss", [network.w], lambda batch: (network.w - 1) ** 2)
    watched = Objective("distance", [], lambda batch: network.w**2)
    config = TrainingConfig(
        epochs=100, batch_size=40, learning_rate=0.1, validation_fraction=0.2, n_iter_no_change=3
    )
    history = train(
        Phase(network, [objective], stopping_loss=watched),
        torch.zeros(50, 1),
        config,
        device=torch.device("cpu"),
        generator=torch.Generator().manual_seed(0),
    )
    assert list(history) == ["loss", "val_loss", "val_distance"]
    assert len(history["val_distance"]) == 4
    assert history["val_loss"] == sorted(history["val_loss"], reverse=True)  # ignored
    assert network.w.item() ** 2 == pytest.approx(history["val_distance"][0])  # its best


def test_a_phase_refuses_losses_of_one_name():
    network = _Scalar()
    loss = Objective("loss", [network.w], lambda batch: network.w**2)
    with pytest.raises(ValueError, match="distinct names"):
        Phase(network, [loss], stopping_loss=Objective("loss", [], loss.loss))


def test_tol_stops_on_small_improvements_and_keeps_the_best_weights():
    # The validation loss 1 / (1 + w) improves every epoch as Adam moves w up by about
    # the learning rate, by a relative lr / (1 + w + lr) that shrinks: a relative tol
    # stops training once an epoch improves it by less than tol of its size.
    network = _Scalar()

    def loss(batch):
        return 1 / (1 + network.w)

    def run(tol):
        network.w.data.zero_()
        config = TrainingConfig(
            epochs=100,
            batch_size=50,
            learning_rate=0.1,
            validation_fraction=0.2,
            n_iter_no_change=2,
            tol=tol,
        )
        return train(
            Phase(network, [Objective("loss", [network.w], loss)]),
            torch.zeros(50, 1),
            config,
            device=torch.device("cpu"),
            generator=torch.Generator().manual_seed(0),
        )["val_loss"]

    assert len(run(0.0)) == 100  # every epoch improves a little
    val_loss = run(0.05)
    # The last epoch that improved on the best by tol, then n_iter_no_change epochs
    # that did not (each a little better than the one before, the best so far).
    assert 5 < len(val_loss) < 20
    assert val_loss[-3] < 0.95 * val_loss[-4]
    assert val_loss[-2] >= 0.95 * val_loss[-3] and val_loss[-1] >= 0.95 * val_loss[-2]
    assert 1 / (1 + network.w.item()) == pytest.approx(min(val_loss))  # the best weights


def test_every_objective_is_stepped_and_recorded():
    network = nn.Linear(2, 1)
    objectives = [
        Objective("first", [network.weight], lambda batch: network(batch).square().mean()),
        Objective("second", [network.bias], lambda batch: (network(batch) - 1).square().mean()),
    ]
    before = [p.detach().clone() for p in network.parameters()]
    history = train(
        Phase(network, objectives),
        torch.randn(20, 2),
        TrainingConfig(epochs=2, batch_size=8, learning_rate=0.01),
        device=torch.device("cpu"),
        generator=torch.Generator().manual_seed(0),
    )
    assert list(history) == ["first", "second"] and all(len(v) == 2 for v in history.values())
    assert all(not torch.equal(b, p) for b, p in zip(before, network.parameters()))


def test_gradient_clipping_is_applied(blobs, monkeypatch):
    norms = []
    original = nn.utils.clip_grad_norm_
    monkeypatch.setattr(
        nn.utils,
        "clip_grad_norm_",
        lambda params, max_norm: norms.append(max_norm) or original(params, max_norm),
    )
    fast_vae(clip_grad_norm=0.5, epochs=1).fit(blobs)
    assert norms and set(norms) == {0.5}
    norms.clear()
    fast_vae(clip_grad_norm=None, epochs=1).fit(blobs)
    assert norms == []


def test_validation_fraction_must_leave_training_rows(monkeypatch):
    with pytest.raises(ValueError, match="leaves no training rows"):
        fast_vae(validation_fraction=0.9).fit(np.random.default_rng(0).normal(size=(2, 3)))
    # Before any phase trains: a GAN's adversarial phase, which holds nothing out, included.
    X = np.random.default_rng(0).normal(size=(60, 3))
    detector = fast_gan(validation_fraction=0.2).fit(X)
    phases = []
    monkeypatch.setattr(detector_base, "train", lambda phase, *args, **kw: phases.append(phase))
    with pytest.raises(ValueError, match="leaves no training rows out of 1"):
        detector.partial_fit(X[:1], epochs=100)
    assert phases == []


@pytest.mark.parametrize(
    "n_rows, gap, trained, held_out",
    [(40, 5, range(31), range(36, 40)), (10, 8, range(5), range(9, 10))],
)
def test_ordered_windows_hold_out_the_last_rows_apart_from_the_training_ones(
    n_rows, gap, trained, held_out
):
    # Rows stand for a series' windows: the last are held out and the gap's rows before them
    # are in neither set, so no held-out window overlaps a training one; on a short series
    # the gap keeps at most half the other rows (here 4 of 9).
    network = nn.Linear(1, 1)
    seen = {True: set(), False: set()}

    def loss(batch):
        seen[torch.is_grad_enabled()].update(int(v) for v in batch[:, 0])
        return network(batch).square().mean()

    phase = Phase(network, [Objective("loss", list(network.parameters()), loss)])
    config = TrainingConfig(
        epochs=2, batch_size=8, learning_rate=0.1, validation_fraction=0.1, validation_gap=gap
    )
    X = torch.arange(float(n_rows))[:, None]
    train(phase, X, config, device=torch.device("cpu"), generator=torch.Generator())
    assert seen == {True: set(trained), False: set(held_out)}


def test_frozen_modules_are_used_but_not_trained():
    trained, fixed = nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 1), nn.Dropout(0.5))
    before = [p.detach().clone() for p in fixed.parameters()]
    modes = []

    def loss(batch):
        modes.append(fixed.training)
        return fixed(trained(batch)).square().mean()

    phase = Phase(trained, [Objective("loss", list(trained.parameters()), loss)], frozen=[fixed])
    train(
        phase,
        torch.randn(20, 2),
        TrainingConfig(epochs=2, batch_size=5, learning_rate=0.1),
        device=torch.device("cpu"),
        generator=torch.Generator().manual_seed(0),
    )
    assert modes and not any(modes)
    assert all(torch.equal(b, p) and p.grad is None for b, p in zip(before, fixed.parameters()))
    assert all(p.requires_grad for p in fixed.parameters())


def test_phase_without_early_stopping_ignores_the_validation_fraction():
    network = nn.Linear(2, 1)
    phase = Phase(
        network,
        [Objective("loss", list(network.parameters()), lambda b: network(b).mean())],
        early_stopping=False,
    )
    config = TrainingConfig(epochs=3, batch_size=4, learning_rate=0.1, validation_fraction=0.5)
    history = train(
        phase,
        torch.randn(8, 2),
        config,
        device=torch.device("cpu"),
        generator=torch.Generator().manual_seed(0),
    )
    assert list(history) == ["loss"] and len(history["loss"]) == 3


def _fit_centre(
    trim_fraction: float, epochs: int = 30, warm_start: bool = False
) -> tuple[float, list[float]]:
    """One parameter pulled towards the rows of X; the row at 100 fits worst."""
    centre = nn.Module()
    centre.value = nn.Parameter(torch.zeros(1))
    X = torch.cat([torch.zeros(9, 1), torch.full((1, 1), 100.0)])
    history = train(
        Phase(
            centre, [Objective("loss", [centre.value], lambda b: (b[:, 0] - centre.value).square())]
        ),
        X,
        TrainingConfig(
            epochs=epochs,
            batch_size=10,
            learning_rate=0.5,
            trim_fraction=trim_fraction,
            warm_start=warm_start,
        ),
        device=torch.device("cpu"),
        generator=torch.Generator().manual_seed(0),
    )
    return centre.value.item(), history["loss"]


def test_trimming_leaves_the_worst_fitted_rows_out_after_the_warm_up():
    untrimmed, _ = _fit_centre(0.0)
    trimmed, losses = _fit_centre(0.1)
    assert untrimmed > 5  # pulled towards the outlier
    # The outlier moves the centre during the warm-up (3 epochs) only; afterwards
    # it is left out of the step and of the recorded loss.
    assert abs(trimmed) < 0.5
    assert losses[0] > 900 and losses[-1] < 1


def test_a_warm_start_trims_from_the_first_epoch():
    # One epoch (one step): the warm-up would take it all, and the outlier pull the centre;
    # a network trained before (partial_fit) leaves the outlier out at once.
    assert _fit_centre(0.1, epochs=1)[0] > 0.4
    assert _fit_centre(0.1, epochs=1, warm_start=True) == (0.0, [0.0])


def test_scalar_losses_are_not_trimmed(blobs):
    network = nn.Linear(4, 1)
    sizes = []

    def loss(batch):
        sizes.append(len(batch))
        return network(batch).square().mean()

    train(
        Phase(network, [Objective("loss", list(network.parameters()), loss)]),
        torch.from_numpy(blobs).float(),
        TrainingConfig(epochs=3, batch_size=40, learning_rate=0.01, trim_fraction=0.4),
        device=torch.device("cpu"),
        generator=torch.Generator().manual_seed(0),
    )
    assert set(sizes) == {40}
