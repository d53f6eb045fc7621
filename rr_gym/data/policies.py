"""Gaussian MLP policies saved as one safetensors file (weights + JSON metadata, no pickle).

:class:`MLPPolicy` is the actor of a Stable-Baselines3 ``MlpPolicy`` (PPO/A2C:
``mlp_extractor.policy_net`` -> ``action_net``, a state-independent ``log_std``) re-run in
NumPy. It is what rr_gym keeps of each trained locomotion policy, so datasets can be
regenerated without SB3's pickled ``.zip`` files.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> policy = MLPPolicy(
    ...     weights=(rng.normal(size=(8, 3)), rng.normal(size=(2, 8))),
    ...     biases=(np.zeros(8), np.zeros(2)), log_std=np.zeros(2), activation="tanh",
    ...     action_low=-np.ones(2), action_high=np.ones(2))
    >>> policy.act(np.ones(3), deterministic=True).shape
    (2,)
    >>> policy.act(np.ones((5, 3)), rng=rng).shape
    (5, 2)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rr_gym.errors import CheckpointError, ConfigError, DataError

__all__ = ["MLPPolicy"]

_FORMAT = "rr_gym.mlp_policy/1"
_ACTIVATIONS = ("tanh", "relu")


@dataclass(frozen=True, eq=False)
class MLPPolicy:
    """A Gaussian MLP policy: ``mean = W_k(act(... act(W_1 obs + b_1))) + b_k``.

    Attributes:
        weights: per layer ``(out, in)`` matrices; the last one outputs the action mean.
        biases: per layer ``(out,)`` vectors.
        log_std: ``(act_dim,)`` log standard deviation of the Gaussian.
        activation: ``"tanh"`` or ``"relu"`` between hidden layers.
        action_low: ``(act_dim,)`` lower action bounds (actions are clipped to them).
        action_high: ``(act_dim,)`` upper action bounds.
        info: JSON-friendly facts (env id, training step, evaluated return, ...).
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    log_std: np.ndarray
    activation: str
    action_low: np.ndarray
    action_high: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.activation not in _ACTIVATIONS:
            raise ConfigError(
                f"activation={self.activation!r}; expected one of {list(_ACTIVATIONS)}"
            )
        if not self.weights or len(self.weights) != len(self.biases):
            raise ConfigError(
                f"{len(self.weights)} weight matrices but {len(self.biases)} "
                "bias vectors; expected the same non-zero number"
            )
        object.__setattr__(self, "weights", tuple(np.asarray(w, np.float64) for w in self.weights))
        object.__setattr__(self, "biases", tuple(np.asarray(b, np.float64) for b in self.biases))
        for name in ("log_std", "action_low", "action_high"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), np.float64))
        if self.log_std.shape != (self.act_dim,):
            raise ConfigError(f"log_std has shape {self.log_std.shape}; expected ({self.act_dim},)")

    @property
    def obs_dim(self) -> int:
        """Observation size."""
        return int(self.weights[0].shape[1])

    @property
    def act_dim(self) -> int:
        """Action size."""
        return int(self.weights[-1].shape[0])

    def mean(self, obs: np.ndarray) -> np.ndarray:
        """Action mean for ``(obs_dim,)`` or ``(B, obs_dim)`` observations (same batch shape)."""
        x = np.asarray(obs, np.float64)
        if x.shape[-1] != self.obs_dim:
            raise DataError(f"observation of shape {x.shape}; expected (..., {self.obs_dim})")
        act = np.tanh if self.activation == "tanh" else (lambda v: np.maximum(v, 0.0))
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            x = act(x @ w.T + b)
        return x @ self.weights[-1].T + self.biases[-1]

    def act(
        self,
        obs: np.ndarray,
        *,
        deterministic: bool = False,
        rng: np.random.Generator | None = None,
        noise_std: float | None = None,
    ) -> np.ndarray:
        """Actions ``(..., act_dim)`` float32, clipped to the action bounds.

        Args:
            obs: ``(obs_dim,)`` or ``(B, obs_dim)``.
            deterministic: the mean action, no noise.
            rng: source of the Gaussian noise (required unless ``deterministic``).
            noise_std: standard deviation of the Gaussian noise added to the mean; None
                uses the policy's own ``exp(log_std)``.
        """
        mu = self.mean(obs)
        if not deterministic:
            if rng is None:
                raise ConfigError("a stochastic action needs rng=np.random.Generator")
            std = np.exp(self.log_std) if noise_std is None else float(noise_std)
            mu = mu + std * rng.standard_normal(mu.shape)
        return np.clip(mu, self.action_low, self.action_high).astype(np.float32)

    @classmethod
    def from_sb3(cls, policy: Any, info: dict[str, Any] | None = None) -> MLPPolicy:
        """Copy the actor of an SB3 ``ActorCriticPolicy`` (``MlpPolicy``, Box actions).

        Raises:
            ConfigError: a policy this class cannot represent (squashed outputs, another
                activation, a non-Gaussian action distribution).
        """
        import torch

        if getattr(policy, "squash_output", False) or not hasattr(policy, "log_std"):
            raise ConfigError(
                "only SB3 MlpPolicy actors with a Gaussian (non-squashed) "
                "action distribution are supported"
            )
        act_fn = getattr(policy, "activation_fn", None)
        names = {torch.nn.Tanh: "tanh", torch.nn.ReLU: "relu"}
        if act_fn not in names:
            raise ConfigError(f"activation {act_fn}; expected torch.nn.Tanh or torch.nn.ReLU")
        state = {k: v.detach().cpu().numpy() for k, v in policy.state_dict().items()}
        layers = sorted(
            {int(k.split(".")[2]) for k in state if k.startswith("mlp_extractor.policy_net.")}
        )
        weights = [state[f"mlp_extractor.policy_net.{i}.weight"] for i in layers]
        biases = [state[f"mlp_extractor.policy_net.{i}.bias"] for i in layers]
        weights.append(state["action_net.weight"])
        biases.append(state["action_net.bias"])
        space = policy.action_space
        return cls(
            weights=tuple(weights),
            biases=tuple(biases),
            log_std=state["log_std"],
            activation=names[act_fn],
            action_low=space.low,
            action_high=space.high,
            info=dict(info or {}),
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write one ``.safetensors`` file (atomic); returns its path."""
        from safetensors.numpy import save

        from rr_gym.utils.io import atomic_write_bytes

        tensors = {
            "log_std": self.log_std,
            "action_low": self.action_low,
            "action_high": self.action_high,
        }
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            tensors[f"layer{i}.weight"] = w
            tensors[f"layer{i}.bias"] = b
        meta = {
            "format": _FORMAT,
            "activation": self.activation,
            "n_layers": len(self.weights),
            "info": self.info,
        }
        target = Path(path)
        atomic_write_bytes(target, save(tensors, metadata={"rr_gym": json.dumps(meta)}))
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MLPPolicy:
        """Read a file written by :meth:`save`.

        Raises:
            CheckpointError: missing file, not a safetensors file, or another format.
        """
        from safetensors import SafetensorError, safe_open

        target = Path(path)
        if not target.is_file():
            raise CheckpointError(f"policy file {target} does not exist")
        try:
            with safe_open(str(target), framework="np") as handle:
                raw = (handle.metadata() or {}).get("rr_gym")
                tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
        except (SafetensorError, OSError) as exc:
            raise CheckpointError(f"{target} is not a readable safetensors file: {exc}") from exc
        try:
            meta = json.loads(raw or "")
            n = int(meta["n_layers"])
            if meta.get("format") != _FORMAT:
                raise KeyError("format")
            return cls(
                weights=tuple(tensors[f"layer{i}.weight"] for i in range(n)),
                biases=tuple(tensors[f"layer{i}.bias"] for i in range(n)),
                log_std=tensors["log_std"],
                activation=meta["activation"],
                action_low=tensors["action_low"],
                action_high=tensors["action_high"],
                info=dict(meta.get("info") or {}),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise CheckpointError(
                f"{target} is not an rr_gym policy file (format {_FORMAT!r}): {exc}"
            ) from exc
