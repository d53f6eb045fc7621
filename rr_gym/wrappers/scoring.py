"""Fast evaluation of a reward model at diffusion step 0 on raw transition windows.

Env wrappers score a handful of windows per step, where the fixed cost of a torch call
dominates. :class:`RewardScorer` picks the leanest exact path:

- ``"native"``: for a :class:`~rr_gym.rewards.RelativeRewardModel` (an MLP over a window and a
  diffusion-step embedding), the embedding of ``t = 0`` and the normaliser are folded into
  the first layer and the MLP runs in the compiled kernel of :mod:`rr_gym.wrappers.native`
  (when it was built and the CPU has AVX2 and FMA). The folded MLP is checked against the
  model's own ``forward`` when built and rebuilt whenever the model's weights or normaliser
  change (so a reward trained while an agent trains, as in adversarial IRL, is never stale).
- ``"numpy"``: the same folded MLP in NumPy.
- ``"torch"``: ``model.forward`` under ``torch.no_grad`` on the model's device, with the
  model's normaliser; any :class:`~rr_gym.rewards.TorchRewardModel`.
- ``"predict"``: ``model.predict(windows, t=0)``; any other
  :class:`~rr_gym.rewards.RewardModel`.
"""

from __future__ import annotations

import logging
from typing import get_args

import numpy as np
import torch
import torch.nn.functional as F

from rr_gym.errors import ConfigError
from rr_gym.reward_options import Backend
from rr_gym.rewards.base import RewardModel, TorchRewardModel
from rr_gym.wrappers import native

__all__ = ["RewardScorer"]

logger = logging.getLogger(__name__)

_BACKENDS = get_args(Backend)


_MISH_CLIP = np.float32(20.0)  # mish(x) == x to float32 precision above this
_TORCH_MISH_MAX = 1024  # below this many entries one torch call beats seven NumPy ufuncs


def _mish_(h: np.ndarray, e: np.ndarray, t: np.ndarray) -> None:
    """In-place ``h * tanh(softplus(h))`` with one exp and no allocation:
    ``tanh(log1p(e)) = n / (n + 2)`` with ``n = e (e + 2)``, ``e = exp(h)``; ``e`` and ``t``
    are scratch buffers of ``h``'s shape."""
    if h.size <= _TORCH_MISH_MAX:
        F.mish(torch.from_numpy(h), inplace=True)
        return
    np.minimum(h, _MISH_CLIP, out=e)
    np.exp(e, out=e)
    np.add(e, 2.0, out=t)
    t *= e
    np.add(t, 2.0, out=e)
    t /= e
    h *= t


class _FoldedMLP:
    """A reward's :class:`~rr_gym.rewards.network.FoldableMLP` at one step, as NumPy float32 arrays,
    evaluated by the compiled kernel (``use_native``) or by NumPy."""

    def __init__(self, model: TorchRewardModel, t: int, use_native: bool = False) -> None:
        mlp = model.foldable(t)
        if mlp is None or not mlp.linears or mlp.linears[-1].out_features != 1:
            raise ConfigError(f"{type(model).__name__} has no foldable Linear/Mish MLP")
        linears = mlp.linears
        in_dim = model.window * model.layout.dim
        norm = model.normalizer
        # The normaliser (x - shift) / scale folds into the first layer too:
        # W0' = W0 / scale (per input), b0' = b0 + W0[:, time] @ emb - W0' @ shift.
        shift = torch.from_numpy(np.tile(norm.shift.astype(np.float64), model.window))
        inv_scale = torch.from_numpy(np.tile(1.0 / norm.scale.astype(np.float64), model.window))
        with torch.no_grad():
            emb = mlp.time_embedding.double().cpu()
            first = linears[0]
            w0 = first.weight.detach().double().cpu()
            if w0.shape[1] != in_dim + emb.shape[0]:
                raise ConfigError(
                    f"first layer takes {w0.shape[1]} inputs, expected window*dim + time_dim "
                    f"= {in_dim} + {emb.shape[0]}"
                )
            w_in = w0[:, :in_dim] * inv_scale
            b0 = first.bias.detach().double().cpu() + w0[:, in_dim:] @ emb - w_in @ shift
            pairs = [(w_in, b0)] + [(lin.weight.detach(), lin.bias.detach()) for lin in linears[1:]]
            # (weight (in, out), bias (out,)) per layer, float32, for h @ weight + bias
            self.layers = [
                (np.ascontiguousarray(w.T.float().cpu().numpy()), b.float().cpu().numpy().copy())
                for w, b in pairs
            ]
        self._buffers: dict[int, list[tuple[np.ndarray, ...]]] = {}
        self.native = native.NativeMLP(self.layers) if use_native else None

    def _scratch(self, n: int) -> list[tuple[np.ndarray, ...]]:
        """Preallocated ``(output, scratch, scratch)`` per layer for batch ``n``."""
        bufs = self._buffers.get(n)
        if bufs is None:
            if len(self._buffers) > 8:
                self._buffers.clear()
            bufs = [
                tuple(np.empty((n, w.shape[1]), np.float32) for _ in range(3))
                for w, _ in self.layers
            ]
            self._buffers[n] = bufs
        return bufs

    def __call__(self, flat: np.ndarray) -> np.ndarray:
        """Rewards ``(N,)`` of raw (unnormalised) flattened windows ``(N, window * D)``."""
        if self.native is not None:
            return self.native(flat)
        h = flat
        last = len(self.layers) - 1
        for i, ((w, b), (out, e, t)) in enumerate(
            zip(self.layers, self._scratch(len(flat)), strict=True)
        ):
            np.dot(h, w, out=out)
            out += b
            if i < last:
                _mish_(out, e, t)
            h = out
        return h[:, 0].copy()


class RewardScorer:
    """Rewards of raw windows ``(N, window, D)`` at diffusion step 0, as fast as exact.

    Args:
        model: any :class:`~rr_gym.rewards.RewardModel`.
        backend: ``"auto"`` (the first of ``"native"``, ``"numpy"``, ``"torch"`` that the
            model and this machine allow; ``"predict"`` for rewards that are not torch
            modules) or one of them explicitly.
        verify_tol: largest absolute difference to ``forward`` (relative to the rewards'
            scale when above 1) the folded paths may show on a random probe when built
            (else ``"auto"`` falls back to the next path).

    Raises:
        ConfigError: an unknown backend, or one the model (or, for ``"native"``, this
            machine) does not support.
    """

    def __init__(self, model: RewardModel, backend: Backend = "auto", verify_tol: float = 1e-4):
        if backend not in _BACKENDS:
            raise ConfigError(f"backend={backend!r}; expected one of {list(_BACKENDS)}")
        self.model = model
        self.verify_tol = verify_tol
        self._folded: _FoldedMLP | None = None
        self._version: tuple[int, int, int] = (0, 0, 0)
        is_torch = isinstance(model, TorchRewardModel)
        self._params = list(model.parameters()) if is_torch else []  # type: ignore[attr-defined]
        if backend in ("native", "numpy", "torch") and not is_torch:
            raise ConfigError(
                f"backend={backend!r} needs a TorchRewardModel; {type(model).__name__} is not "
                "one: use backend='predict'"
            )
        if backend == "auto":
            backend = "predict"
            if is_torch:
                backend = "torch"
                if native.available() and self._try_fold(quiet=True, use_native=True):
                    backend = "native"
                elif self._try_fold(quiet=True, use_native=False):
                    backend = "numpy"
        elif backend == "native" and not native.available():
            raise ConfigError(
                "backend='native' needs the compiled reward kernel, which is not available "
                "here (not built at install, or the CPU lacks AVX2/FMA); use 'numpy'"
            )
        elif backend in ("native", "numpy") and not self._try_fold(
            quiet=False, use_native=backend == "native"
        ):
            raise ConfigError(
                f"backend={backend!r} cannot evaluate {type(model).__name__} exactly; use 'torch'"
            )
        self.backend: Backend = backend

    def _state_version(self) -> tuple[int, int, int]:
        """Changes whenever a parameter is modified in place (versions only grow), moved or
        replaced, or the normaliser is replaced."""
        params = self._params
        return (
            id(self.model.normalizer),
            sum([p._version for p in params]),
            params[0].data_ptr() if params else 0,
        )

    def _try_fold(self, quiet: bool, use_native: bool) -> bool:
        model = self.model
        assert isinstance(model, TorchRewardModel)
        try:
            folded = _FoldedMLP(model, 0, use_native)
        except (ConfigError, AttributeError, TypeError, RuntimeError) as exc:
            if not quiet:
                logger.warning("cannot fold the MLP of %s: %s", type(model).__name__, exc)
            return False
        gen = np.random.default_rng(0)
        spread = np.array([1.0, 1.0, 3.0, 10.0], dtype=np.float32)[:, None, None]
        probe = gen.normal(size=(4, model.window, model.layout.dim)) * spread
        probe = probe * model.normalizer.scale + model.normalizer.shift
        probe = probe.astype(np.float32)
        want = self._torch(probe)
        got = folded(probe.reshape(len(probe), -1))
        err = float(np.max(np.abs(got - want)))
        if not err <= self.verify_tol * max(1.0, float(np.max(np.abs(want)))):
            logger.warning(
                "%s path of %s differs from forward by %.3g",
                "native" if use_native else "NumPy",
                type(model).__name__,
                err,
            )
            return False
        self._folded = folded
        self._version = self._state_version()
        return True

    def _torch(self, windows: np.ndarray) -> np.ndarray:
        model = self.model
        assert isinstance(model, TorchRewardModel)
        was_training = model.training
        if was_training:
            model.eval()
        try:
            with torch.no_grad():
                x = torch.from_numpy(windows).to(model.device)
                r = model.forward(model.normalizer.normalize(x), 0)
        finally:
            if was_training:
                model.train()
        return r.float().cpu().numpy()

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        """Rewards ``(N,)`` (float32) of raw float32 windows ``(N, window, D)`` at ``t = 0``."""
        if self.backend in ("native", "numpy"):
            if self._state_version() != self._version and not self._try_fold(
                quiet=False, use_native=self.backend == "native"
            ):
                logger.warning("evaluating %s with torch from now on", type(self.model).__name__)
                self.backend = "torch"
                return self._torch(windows)
            assert self._folded is not None
            return self._folded(windows.reshape(len(windows), -1))
        if self.backend == "torch":
            return self._torch(windows)
        return np.asarray(self.model.predict(windows, t=0), dtype=np.float32).reshape(-1)
