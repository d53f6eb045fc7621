"""The RewardModel protocol shared by every reward in rr_gym, and a torch base class for it."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from rr_gym.errors import ConfigError, DataError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.recorded_init import RecordedInit

if TYPE_CHECKING:
    from rr_gym.rewards.network import FoldableMLP
from rr_gym.utils.validation import check_finite, check_int

__all__ = ["Reduction", "RewardModel", "TorchRewardModel"]

Reduction = Literal["sum", "mean"]


@runtime_checkable
class RewardModel(Protocol):
    """What every reward in rr_gym offers: the relative reward, the IRL baselines, the true
    reward.

    A reward scores windows of ``window`` consecutive transitions at diffusion step ``t``;
    the reward of a trajectory is the sum (or mean) over its windows. At ``t = 0`` with
    ``window = 1`` it is a Markov reward of one transition.

    Attributes:
        layout: the transition layout the reward reads.
        normalizer: maps raw transitions to the space ``forward`` works in.
        window: transitions per scored window.
    """

    layout: TransitionLayout
    normalizer: Normalizer
    window: int

    def forward(self, x: torch.Tensor, t: torch.Tensor | int = 0) -> torch.Tensor:
        """Trajectory reward of normalised ``x`` ``(B, H, D)``, ``H >= window``, at steps
        ``t`` (int or ``(B,)``); returns ``(B,)`` and keeps gradients (for guidance)."""
        ...

    def predict(self, x: np.ndarray, t: int = 0) -> np.ndarray:
        """Reward of raw ``x`` ``(N, H, D)`` or ``(N, D)`` without gradients; ``(N,)``."""
        ...


class TorchRewardModel(RecordedInit, nn.Module, abc.ABC):
    """Base class of rr_gym's torch rewards: windowing, reduction, ``predict``, gradients.

    Subclasses implement :meth:`window_reward` on windows ``(M, window, D)``.

    Args:
        layout: transition layout of the inputs.
        normalizer: raw-to-model-space map (identity if None).
        window: transitions per window (1 = a Markov reward).
        reduction: how window rewards combine into a trajectory reward.
        metadata: JSON-friendly facts saved with the checkpoint.
    """

    def __init__(
        self,
        layout: TransitionLayout,
        normalizer: Normalizer | None = None,
        *,
        window: int = 1,
        reduction: Reduction = "sum",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if window < 1:
            raise ConfigError(f"window={window}; expected a positive number of transitions")
        if reduction not in ("sum", "mean"):
            raise ConfigError(f"reduction={reduction!r}; expected 'sum' or 'mean'")
        self.layout = layout
        self.normalizer = normalizer if normalizer is not None else Normalizer.identity(layout.dim)
        if self.normalizer.dim != layout.dim:
            raise ConfigError(
                f"normalizer dim {self.normalizer.dim} does not match layout dim {layout.dim}"
            )
        self.window = window
        self.reduction: Reduction = reduction
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.training_config: dict[str, Any] = {}

    @property
    def n_diffusion_steps(self) -> int | None:
        """T of the noise schedule whose steps ``t`` this reward reads; None when the reward
        does not depend on ``t`` (then any ``t >= 0`` gives the same reward)."""
        return None

    @abc.abstractmethod
    def window_reward(self, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Reward of windows ``w`` ``(M, window, D)`` at steps ``t`` ``(M,)``; returns ``(M,)``."""

    def foldable(self, t: int) -> FoldableMLP | None:
        """This reward at step ``t`` as a plain MLP (:class:`~rr_gym.rewards.network.FoldableMLP`)
        that a fast scorer may evaluate in NumPy, or None (the default) when it is not one."""
        del t
        return None

    @property
    def device(self) -> torch.device:
        """Device of the parameters, else of the buffers (CPU for a reward with neither)."""
        tensor: torch.Tensor | None = next(self.parameters(), None)
        if tensor is None:
            tensor = next(self.buffers(), None)
        return tensor.device if tensor is not None else torch.device("cpu")

    def forward(self, x: torch.Tensor, t: torch.Tensor | int = 0) -> torch.Tensor:
        """Trajectory reward ``(B,)`` of normalised ``x`` ``(B, H, D)`` at steps ``t``."""
        if x.dim() != 3 or x.shape[-1] != self.layout.dim or x.shape[1] < self.window:
            raise DataError(
                f"reward input has shape {tuple(x.shape)}; expected (B, H, {self.layout.dim}) "
                f"with H >= window={self.window}"
            )
        batch, horizon, dim = x.shape
        t = torch.as_tensor(t, device=x.device)
        if t.dim() == 0:
            t = t.expand(batch)
        if t.shape != (batch,):
            raise DataError(
                f"diffusion steps t have shape {tuple(t.shape)}; expected an int or ({batch},)"
            )
        n_win = horizon - self.window + 1
        windows = x.unfold(1, self.window, 1).permute(0, 1, 3, 2)  # (B, n_win, window, D)
        r = self.window_reward(
            windows.reshape(batch * n_win, self.window, dim), t.repeat_interleave(n_win)
        ).reshape(batch, n_win)
        return r.sum(1) if self.reduction == "sum" else r.mean(1)

    def gradient(self, x: torch.Tensor, t: torch.Tensor | int = 0) -> torch.Tensor:
        """``d reward / d x`` ``(B, H, D)`` at normalised ``x`` ``(B, H, D)``."""
        with torch.enable_grad():
            v = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.forward(v, t).sum(), v)
        return grad

    def _check_step(self, t: Any) -> int:
        """``t`` as an int in ``0..T-1``, else a ConfigError naming both."""
        n_steps = self.n_diffusion_steps
        valid = "an int >= 0" if n_steps is None else f"an int in 0..{n_steps - 1}"
        hint = "" if n_steps is None else f" (this reward was trained on T={n_steps} steps)"
        t = check_int(t, "t", minimum=0, hint=hint)
        if n_steps is not None and t >= n_steps:
            raise ConfigError(f"t={t}; expected {valid}{hint}; t=0 is the clean-data reward")
        return t

    @torch.no_grad()
    def predict(self, x: np.ndarray, t: int = 0, *, batch_size: int = 65536) -> np.ndarray:
        """Reward of raw ``x`` ``(N, H, D)`` or ``(N, D)`` (one transition each) at step ``t``.

        Returns:
            float32 array ``(N,)``.

        Raises:
            DataError: wrong rank or size, or non-finite values.
            ConfigError: ``t`` is not an int in ``0..T-1`` (T: :attr:`n_diffusion_steps`).
        """
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        t = self._check_step(t)
        arr = np.asarray(x, dtype=np.float32)
        if arr.ndim == 2:
            arr = arr[:, None, :]
        if arr.ndim != 3 or arr.shape[-1] != self.layout.dim or arr.shape[1] < self.window:
            raise DataError(
                f"predict got shape {np.shape(x)}; expected (N, H, {self.layout.dim}) with "
                f"H >= window={self.window}" + (", or (N, D)" if self.window == 1 else "")
            )
        check_finite(arr, "reward input")
        was_training = self.training
        self.eval()
        device = self.device
        out = np.empty(len(arr), dtype=np.float32)
        try:
            for start in range(0, len(arr), batch_size):
                chunk = torch.as_tensor(arr[start : start + batch_size], device=device)
                out[start : start + len(chunk)] = self.forward(
                    self.normalizer.normalize(chunk), t
                ).cpu()
        finally:
            self.train(was_training)
        return out
