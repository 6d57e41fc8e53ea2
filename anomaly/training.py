"""The one training loop shared by every detector.

A detector describes what to optimise as one or more :class:`Phase`, each a
module and the :class:`Objective` list it minimises (one objective for a VAE;
discriminator then generator for a GAN, then an encoder against the frozen GAN),
and hands each to :func:`train`, which owns everything else: device placement,
seeding, batching, mixed precision, gradient clipping, divergence checks,
progress display, validation-based early stopping and the per-epoch loss history.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

__all__ = [
    "Objective",
    "Phase",
    "TrainingConfig",
    "check_validation_fraction",
    "is_main_process",
    "resolve_device",
    "seeded",
    "train",
]

# Data up to this size is moved to the device once; larger data is sent batch by batch.
_MAX_RESIDENT_BYTES = 1 << 30


@dataclass(frozen=True)
class Objective:
    """One loss minimised by one optimizer over a set of parameters.

    Parameters
    ----------
    name : str
        Key of this loss in the training history (``history_``).
    parameters : sequence of torch.nn.Parameter
        Parameters updated by this objective's optimizer.
    loss : callable
        Maps a batch tensor to a scalar loss, or to one loss per row: those
        are averaged, without the highest ones when training is trimmed (see
        :func:`train`).
    """

    name: str
    parameters: Sequence[nn.Parameter]
    loss: Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Phase:
    """One run of the training loop.

    Parameters
    ----------
    module : torch.nn.Module
        Owns every trained parameter: switched to train mode while the phase
        runs, and its best state is kept under early stopping.
    objectives : sequence of Objective
        What to minimise, stepped in this order on every batch.
    frozen : sequence of torch.nn.Module, default=()
        Modules the objectives use without training them (e.g. a GAN's
        generator while its encoder learns): kept in eval mode, gradients off.
    early_stopping : bool, default=True
        Whether ``validation_fraction`` applies. A GAN's adversarial losses do
        not measure fit, so its adversarial phase trains for all epochs.
    stopping_loss : Objective or None, default=None
        What early stopping watches on the held-out rows, where the objectives'
        summed losses would not measure fit (a VAE-GAN's adversarial terms
        measure a race); recorded as ``val_<name>``, never stepped (give it no
        parameters). None: the sum of the objectives' losses.
    """

    module: nn.Module
    objectives: Sequence[Objective]
    frozen: Sequence[nn.Module] = ()
    early_stopping: bool = True
    stopping_loss: Objective | None = None

    def __post_init__(self) -> None:
        names = [objective.name for objective in self.objectives]
        names += [self.stopping_loss.name] if self.stopping_loss else []
        if len(set(names)) < len(names):  # each names one entry of the history
            raise ValueError(f"a phase's losses need distinct names, got {names}")


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters of :func:`train`; detectors build it from their own parameters."""

    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float = 0.0
    validation_fraction: float | None = None
    # Rows that are a series' windows, in order, overlap their neighbours: the held-out rows
    # are then the last ones, and this many rows before them are left out, so that no held-out
    # window shares a step with a training one (at random, 98 % would); at most half the other
    # rows, so that a short series still trains. None: held out at random.
    validation_gap: int | None = None
    n_iter_no_change: int = 10
    tol: float = 0.0
    clip_grad_norm: float | None = None
    adam_betas: tuple[float, float] = (0.9, 0.999)
    trim_fraction: float = 0.0
    # A network trained before (partial_fit) has fitted the bulk: trimming starts at once.
    warm_start: bool = False
    verbose: bool = False
    description: str = "training"

    def check_split(self, phases: Sequence[Phase], n_rows: int) -> None:
        """Refuse, before any phase trains, a validation split that leaves no training rows."""
        if self.validation_fraction and any(phase.early_stopping for phase in phases):
            check_validation_fraction(self.validation_fraction, n_rows)


def resolve_device(device: str) -> torch.device:
    """Turn a ``device`` parameter into a :class:`torch.device`.

    ``"auto"`` selects CUDA when it is available and the CPU otherwise.

    Raises
    ------
    ValueError
        If the string names no device, or names CUDA on a machine without it.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device={device!r} is not a valid torch device: {err}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this machine; "
            "use device='auto' or device='cpu'."
        )
    return resolved


@contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's global generators inside the block and restore them afterwards.

    Dropout and reparameterisation noise draw from the global generators, so
    seeding them makes a fit reproducible without disturbing the caller's state.
    """
    cuda_devices = []
    if device.type == "cuda":
        cuda_devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=cuda_devices, device_type="cuda"):
        torch.manual_seed(seed)
        yield


def train(
    phase: Phase,
    X: torch.Tensor,
    config: TrainingConfig,
    *,
    device: torch.device,
    generator: torch.Generator,
) -> dict[str, list[float]]:
    """Run one training phase over mini-batches of ``X``.

    Each batch is used by every objective in turn, each with its own Adam
    optimizer. With ``config.trim_fraction``, once a warm-up of the first
    tenth of the epochs is over (at once with ``config.warm_start``), an
    objective that gives one loss per row leaves that share of the batch with
    the highest losses, the rows the model fits worst, out of its step
    (trimmed or small-loss training): on data that holds anomalies, the model
    then does not learn the rows it should flag.
    On CUDA the losses run under bfloat16 autocast. When
    ``config.validation_fraction`` is set and the phase allows early
    stopping, that share of the rows is held out (at random, or the last rows
    with ``config.validation_gap``), training stops after
    ``n_iter_no_change`` epochs without a validation loss (the objectives'
    total, or the phase's ``stopping_loss``) below the best by more than
    ``tol`` times its size, and the best weights are restored.

    Launched by ``torchrun`` (``WORLD_SIZE`` > 1), the processes train as one
    data-parallel model, as ``DistributedDataParallel`` does: the process
    group is joined here (gloo on the CPU, NCCL on CUDA), rank 0's weights
    are broadcast, each batch is ``batch_size`` rows on every rank, each
    rank's share of the same shuffled order, and the gradients are averaged
    over the ranks before every step; the loss history counts every rank's
    rows and early stopping the ranks' mean validation loss, so all ranks
    keep the same weights and stop together. Without
    ``torchrun`` nothing of this runs.

    Parameters
    ----------
    phase : Phase
        The module to train, its objectives and the modules held fixed.
    X : torch.Tensor of shape (n_samples, ...)
        Training data on the CPU, already preprocessed.
    config : TrainingConfig
        Epochs, batch size, optimizer and stopping settings.
    device : torch.device
        Where to train.
    generator : torch.Generator
        CPU generator for the validation split and batch order.

    Returns
    -------
    history : dict of str to list of float
        Mean loss per epoch for each objective (over the rows kept, when
        trimmed), plus ``val_<name>`` entries (also the phase's ``stopping_loss``)
        when a validation fraction is used.

    Raises
    ------
    FloatingPointError
        If a loss or a weight becomes NaN or infinite; the message names the epoch.
    """
    network, objectives = phase.module, phase.objectives
    # First: on CUDA, joining selects this rank's GPU, where "cuda" then places the network.
    rank, world = _join_process_group(device)
    network.to(device)
    if world > 1:
        for tensor in [*network.parameters(), *network.buffers()]:
            dist.broadcast(tensor.data, src=0)
        # Rank 0's split and order for all (ranks fitted with random_state=None seed apart).
        state = generator.get_state().to(device)
        dist.broadcast(state, src=0)
        generator.set_state(state.cpu())
    validation_fraction = config.validation_fraction if phase.early_stopping else None
    train_X, val_X = _split(X, validation_fraction, generator, config.validation_gap)
    if train_X.numel() * train_X.element_size() <= _MAX_RESIDENT_BYTES:
        train_X = train_X.to(device)
    optimizers = [
        torch.optim.Adam(
            objective.parameters,
            lr=config.learning_rate,
            weight_decay=config.weight_decay,
            betas=config.adam_betas,
            # One fused kernel per step instead of several small ops per parameter.
            fused=device.type in ("cpu", "cuda"),
        )
        for objective in objectives
    ]
    # The model must fit the bulk of the data before its losses can tell rows apart.
    warmup_epochs = 0 if config.warm_start else math.ceil(config.epochs / 10)
    names = [objective.name for objective in objectives]
    history: dict[str, list[float]] = {name: [] for name in names}
    # Evaluated on the held-out rows; the last one decides when to stop if the phase names it.
    validated = [*objectives, *([phase.stopping_loss] if phase.stopping_loss else [])]
    val_names = [f"val_{objective.name}" for objective in validated]
    if val_X is not None:
        history.update({name: [] for name in val_names})

    with _held_fixed(phase.frozen, device):
        best_val, best_state, epochs_without_improvement = math.inf, None, 0
        progress = tqdm(
            range(1, config.epochs + 1),
            desc=config.description,
            disable=not config.verbose,
            unit="epoch",
            leave=False,
        )
        for epoch in progress:
            network.train()
            # Losses accumulate on the device: one synchronisation per epoch, not per batch.
            totals = torch.zeros(len(objectives), device=device)
            rows_seen = 0
            trim = config.trim_fraction if epoch > warmup_epochs else 0.0
            # The same order on every rank (one seed); each takes its share of each batch.
            order = torch.randperm(len(train_X), generator=generator)
            for start in range(0, len(train_X), config.batch_size * world):
                index = order[start : start + config.batch_size * world]
                if len(index) >= world:  # else every rank takes the few rows left
                    index = index[rank::world]
                batch = train_X[index.to(train_X.device)].to(device, non_blocking=True)
                for k, (objective, optimizer) in enumerate(zip(objectives, optimizers)):
                    optimizer.zero_grad(set_to_none=True)
                    with _autocast(device):
                        loss = _trimmed_mean(objective.loss(batch), trim)
                    loss.backward()
                    if world > 1:
                        _average_gradients(objective.parameters, world)
                    if config.clip_grad_norm is not None:
                        nn.utils.clip_grad_norm_(objective.parameters, config.clip_grad_norm)
                    optimizer.step()
                    totals[k] += loss.detach().float() * len(batch)
                rows_seen += len(batch)
            if world > 1:  # every rank's rows
                totals = torch.cat([totals, totals.new_tensor([rows_seen])])
                dist.all_reduce(totals)
                totals, rows_seen = totals[:-1], totals[-1]
            epoch_losses = (totals / rows_seen).tolist()
            _check_finite(names, epoch_losses, epoch)
            _check_finite_weights(network, epoch)
            for name, value in zip(names, epoch_losses):
                history[name].append(value)
            postfix = dict(zip(names, epoch_losses))

            if val_X is not None:
                val_losses = _evaluate(
                    phase.module, validated, val_X, config.batch_size, config.trim_fraction, device
                )
                if world > 1:  # the ranks' noise differs: one mean, one decision to stop
                    means = torch.tensor(val_losses, device=device)
                    dist.all_reduce(means)
                    val_losses = (means / world).tolist()
                _check_finite(val_names, val_losses, epoch)
                for name, value in zip(val_names, val_losses):
                    history[name].append(value)
                val_loss = val_losses[-1] if phase.stopping_loss else sum(val_losses)
                postfix["val"] = val_loss
                if best_val == math.inf or val_loss < best_val - config.tol * abs(best_val):
                    epochs_without_improvement = 0
                else:
                    epochs_without_improvement += 1
                if val_loss < best_val:  # the weights kept are the best seen
                    best_val, best_state = val_loss, copy.deepcopy(network.state_dict())
            progress.set_postfix({key: f"{value:.4g}" for key, value in postfix.items()})
            if val_X is not None and epochs_without_improvement >= config.n_iter_no_change:
                break

    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return history


def is_main_process() -> bool:
    """False in the processes of a ``torchrun`` launch other than rank 0: those train,
    and rank 0 alone writes what they trained."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _join_process_group(device: torch.device) -> tuple[int, int]:
    """This process's rank and the number of processes training together: (0, 1) unless
    launched by ``torchrun``, whose process group is then joined (once)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return 0, 1
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _average_gradients(parameters: Sequence[nn.Parameter], world: int) -> None:
    """Each gradient's mean over the ranks, in one all-reduce of them all.

    A parameter left out of some ranks' graphs (the missing values' mixing, on a batch
    without gaps) counts as a zero gradient there, and keeps none where no rank has one, as
    in one process: every rank's all-reduce then has the same length.
    """
    parameters = list(parameters)
    has_gradient = [p.grad is not None for p in parameters]
    flat = torch.cat(
        [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in parameters]
        + [torch.tensor(has_gradient, dtype=parameters[0].dtype, device=parameters[0].device)]
    )
    dist.all_reduce(flat)
    counts = flat[-len(parameters) :].tolist()
    means = flat[: -len(parameters)] / world
    for param, mean, count in zip(parameters, means.split([p.numel() for p in parameters]), counts):
        if count == 0:
            continue
        if param.grad is None:
            param.grad = mean.view_as(param).clone()
        else:
            param.grad.copy_(mean.view_as(param.grad))


@contextmanager
def _held_fixed(modules: Sequence[nn.Module], device: torch.device) -> Iterator[None]:
    # Modules used but not trained: eval mode (e.g. no spectral-norm power
    # iterations) and no parameter gradients, restored however training ends.
    for module in modules:
        module.to(device).eval().requires_grad_(False)
    try:
        yield
    finally:
        for module in modules:
            module.requires_grad_(True)


def check_validation_fraction(fraction: float, n_rows: int) -> int:
    """The number of rows ``fraction`` holds out of ``n_rows``, refused where it leaves none
    to train on."""
    n_val = max(1, round(fraction * n_rows))
    if n_val >= n_rows:
        raise ValueError(f"validation_fraction={fraction} leaves no training rows out of {n_rows}.")
    return n_val


def _split(
    X: torch.Tensor, fraction: float | None, generator: torch.Generator, gap: int | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    if not fraction:
        return X, None
    n_val = check_validation_fraction(fraction, len(X))
    if gap is not None:
        gap = min(gap, (len(X) - n_val) // 2)  # see TrainingConfig.validation_gap
        return X[: len(X) - n_val - gap], X[len(X) - n_val :]
    order = torch.randperm(len(X), generator=generator)
    return X[order[n_val:]], X[order[:n_val]]


def _trimmed_mean(loss: torch.Tensor, trim: float) -> torch.Tensor:
    """Mean of per-row losses without the ``trim`` share of highest ones; a scalar as it is."""
    if loss.ndim == 0:
        return loss
    if trim:
        keep = max(1, round(len(loss) * (1 - trim)))
        loss = loss.topk(keep, largest=False, sorted=False).values
    return loss.mean()


@torch.no_grad()
def _evaluate(
    module: nn.Module,
    objectives: Sequence[Objective],
    X: torch.Tensor,
    batch_size: int,
    trim: float,
    device: torch.device,
) -> list[float]:
    # Held-out rows hold anomalies too: trimmed as training batches are, so they
    # do not decide when training stops.
    module.eval()
    totals = torch.zeros(len(objectives), device=device)
    for start in range(0, len(X), batch_size):
        batch = X[start : start + batch_size].to(device)
        with _autocast(device):
            for k, objective in enumerate(objectives):
                totals[k] += _trimmed_mean(objective.loss(batch), trim).float() * len(batch)
    return (totals / len(X)).tolist()


def _autocast(device: torch.device) -> torch.autocast:
    # bfloat16 keeps float32's exponent range, so no gradient scaler is needed.
    return torch.autocast(
        device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"
    )


def _check_finite_weights(network: nn.Module, epoch: int) -> None:
    # A trimmed loss leaves out a row it cannot compute, but the row's NaN gradient still
    # reaches the weights: the loss alone would not show it.
    if not torch.stack([param.isfinite().all() for param in network.parameters()]).all():
        raise FloatingPointError(
            f"Training diverged in epoch {epoch}: a weight became NaN or infinite. Check the "
            "input for extreme values (beyond float32 once standardised), or lower "
            "learning_rate or clip_grad_norm."
        )


def _check_finite(names: Sequence[str], values: Sequence[float], epoch: int) -> None:
    for name, value in zip(names, values):
        if not math.isfinite(value):
            raise FloatingPointError(
                f"Training diverged in epoch {epoch}: {name} = {value}. Lower "
                "learning_rate or clip_grad_norm, and check the input for extreme values "
                "(standardize=True rescales each feature)."
            )
