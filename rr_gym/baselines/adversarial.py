"""The adversarial imitation loop shared by GAIL and AIRL, on Stable-Baselines3 PPO.

Each round (as in imitation's ``AdversarialTrainer``): the PPO learner plays one rollout on
the env whose rewards are relabelled by the current discriminator
(:class:`~rr_gym.baselines.relabel.RelabelVecEnv`) and takes its PPO update; its transitions
enter a replay buffer of the latest ``gen_replay_buffer_capacity`` transitions; then the
discriminator takes ``n_disc_updates_per_round`` Adam steps of binary cross-entropy, each on
``demo_batch_size`` expert transitions (label 1) and as many learner transitions (label 0).

Checkpoints (``checkpoint_dir``): ``reward/`` the exported reward (``rr_gym.load``),
``trainer/`` the discriminator's weights, optimiser, replay buffer, expert sampler and
history (safetensors + JSON), ``learner.zip`` the PPO learner (SB3's own format) and
``policy.safetensors`` its actor (pickle-free :class:`~rr_gym.data.MLPPolicy`). Resuming
continues from the last round saved; it is not bit-identical to an uninterrupted run
(SB3 does not save the envs' states nor its global RNG streams).
"""

from __future__ import annotations

import abc
import copy
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv
from tqdm.auto import tqdm

from rr_gym.baselines.inputs import (
    Transitions,
    check_batch,
    check_env_spaces,
    env_layout,
    load_transitions,
)
from rr_gym.baselines.relabel import RelabelVecEnv
from rr_gym.baselines.trained import AdversarialResult
from rr_gym.checkpoint import read_checkpoint, write_checkpoint
from rr_gym.data.policies import MLPPolicy
from rr_gym.errors import CheckpointError, ConfigError
from rr_gym.layout import TransitionLayout
from rr_gym.rewards.base import TorchRewardModel
from rr_gym.trainer import _flatten_optimizer, _prefixed, _unflatten_optimizer
from rr_gym.utils.device import resolve_device
from rr_gym.utils.seeding import isolated_global_state, seeded

__all__ = ["AdversarialTrainer", "EnvSource", "make_generator_env"]

logger = logging.getLogger(__name__)

EnvSource = Any  # str (Gymnasium id) | gym.Env | Callable[[], gym.Env] | SB3 VecEnv


def make_generator_env(env: EnvSource, *, n_envs: int, seed: int) -> VecEnv:
    """An SB3 VecEnv with a ``Monitor`` per env (true episode returns) from an id, an env,
    an env factory or a VecEnv (used as is).

    Raises:
        ConfigError: ``n_envs < 1``, or a single env instance with ``n_envs > 1``.
    """
    if n_envs < 1:
        raise ConfigError(f"n_envs={n_envs}; expected at least 1")
    if isinstance(env, VecEnv):
        return env
    if isinstance(env, gym.Env):
        if n_envs != 1:
            raise ConfigError(
                f"one env instance was given with n_envs={n_envs}; pass an env id or a "
                "factory for several envs, or n_envs=1"
            )
        return DummyVecEnv([lambda: Monitor(env)])
    if isinstance(env, str) or callable(env):
        return make_vec_env(env, n_envs=n_envs, seed=seed)
    raise ConfigError(
        f"env={env!r}; expected a Gymnasium id, a gym.Env, an env factory or an SB3 VecEnv"
    )


class AdversarialTrainer(abc.ABC):
    """The GAIL/AIRL loop; subclasses define the discriminator's logit and the learner's reward.

    Args:
        reward: the module trained as the discriminator (its exported copy is the reward).
        expert: expert transitions laid out like ``reward.layout``.
        env: the generator env (see :func:`make_generator_env`).
        seed: seeds PPO, the envs, the expert and replay sampling.
        device: where the discriminator and PPO run.
        n_envs: envs when ``env`` is an id or a factory.
        ppo_kwargs: keyword arguments of ``stable_baselines3.PPO`` (SB3 defaults otherwise).
        demo_batch_size: expert (and learner) transitions per discriminator batch.
        n_disc_updates_per_round: discriminator steps after each learner rollout.
        gen_train_timesteps: env steps per round (default one PPO rollout,
            ``n_steps * n_envs``).
        gen_replay_buffer_capacity: learner transitions kept for the discriminator
            (default ``gen_train_timesteps``: the latest rollout only).
        disc_lr: Adam learning rate of the discriminator.
        checkpoint_dir: where checkpoints go (module docstring).
        checkpoint_every: rounds between checkpoints (a final one is always written).
        progress: show a progress bar over env steps.
    """

    name = "adversarial"

    def __init__(
        self,
        reward: TorchRewardModel,
        expert: Transitions,
        env: EnvSource,
        *,
        seed: int = 0,
        device: torch.device | str = "cpu",
        n_envs: int = 8,
        ppo_kwargs: dict[str, Any] | None = None,
        demo_batch_size: int = 1024,
        n_disc_updates_per_round: int = 8,
        gen_train_timesteps: int | None = None,
        gen_replay_buffer_capacity: int | None = None,
        disc_lr: float = 1e-3,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        checkpoint_every: int | None = None,
        progress: bool = True,
    ) -> None:
        if demo_batch_size < 1 or n_disc_updates_per_round < 0 or disc_lr <= 0:
            raise ConfigError(
                f"need demo_batch_size >= 1, n_disc_updates_per_round >= 0, disc_lr > 0; got "
                f"{demo_batch_size}, {n_disc_updates_per_round}, {disc_lr}"
            )
        if checkpoint_every is not None and (checkpoint_every < 1 or checkpoint_dir is None):
            raise ConfigError(
                f"checkpoint_every={checkpoint_every} needs a checkpoint_dir and a value >= 1"
            )
        if expert.layout != reward.layout:
            raise ConfigError(
                f"expert layout {expert.layout} differs from the reward's {reward.layout}"
            )
        check_batch(len(expert), demo_batch_size, "expert data", demo_batch_size)
        self.device = torch.device(device)
        self.seed = int(seed)
        self.reward = reward.to(self.device)
        self.expert = expert
        self._expert_t = torch.as_tensor(expert.data, device=self.device)
        self._expert_dones = torch.as_tensor(expert.dones, device=self.device)
        with isolated_global_state():
            venv = make_generator_env(env, n_envs=n_envs, seed=self.seed)
            check_env_spaces(venv.observation_space, venv.action_space, expert)
            self.venv = RelabelVecEnv(venv, expert.layout, self._learner_reward)
            self.learner = PPO(
                "MlpPolicy",
                self.venv,
                seed=self.seed,
                device=self.device,
                verbose=0,
                **(ppo_kwargs or {}),
            )
        self.ppo_kwargs = dict(ppo_kwargs or {})
        rollout = self.learner.n_steps * self.venv.num_envs
        self.gen_train_timesteps = int(gen_train_timesteps or rollout)
        self.capacity = int(gen_replay_buffer_capacity or self.gen_train_timesteps)
        if self.gen_train_timesteps < 1 or self.capacity < 1:
            raise ConfigError(
                f"gen_train_timesteps={gen_train_timesteps} and gen_replay_buffer_capacity="
                f"{gen_replay_buffer_capacity}; expected positive numbers"
            )
        self.demo_batch_size = demo_batch_size
        self.n_disc_updates = n_disc_updates_per_round
        self.disc_lr = disc_lr
        self.optimizer = torch.optim.Adam(self.reward.parameters(), lr=disc_lr)
        self.rng = np.random.default_rng(self.seed)
        self._perm = self.rng.permutation(len(expert))
        self._pos = 0
        self.gen_rows = np.zeros((0, expert.layout.dim), np.float32)
        self.gen_dones = np.zeros(0, bool)
        self.rounds = 0
        self.history: list[dict[str, float]] = []
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.checkpoint_every = checkpoint_every
        self.progress = progress

    # ------------------------------------------------------------------ subclass API
    @abc.abstractmethod
    def disc_logits(self, rows: torch.Tensor, dones: torch.Tensor) -> torch.Tensor:
        """Discriminator logits ``(n,)`` (positive = expert) of raw transitions ``(n, D)``
        with termination flags ``(n,)``; keeps gradients."""

    @abc.abstractmethod
    def learner_reward(self, rows: torch.Tensor, dones: torch.Tensor) -> torch.Tensor:
        """The reward ``(n,)`` the learner maximises, for raw transitions ``(n, D)``."""

    def options(self) -> dict[str, Any]:
        """Subclass options recorded with the exported reward."""
        return {}

    # ------------------------------------------------------------------ pieces
    @torch.no_grad()
    def _learner_reward(self, rows: np.ndarray, dones: np.ndarray) -> np.ndarray:
        was_training = self.reward.training
        self.reward.eval()
        try:
            r = self.learner_reward(
                torch.as_tensor(rows, device=self.device),
                torch.as_tensor(dones, device=self.device),
            )
        finally:
            self.reward.train(was_training)
        return r.cpu().numpy()

    def _expert_batch(self) -> np.ndarray:
        """Indices of the next ``demo_batch_size`` expert transitions (shuffled epochs)."""
        out = []
        need = self.demo_batch_size
        while need:
            if self._pos >= len(self._perm):
                self._perm, self._pos = self.rng.permutation(len(self.expert)), 0
            take = self._perm[self._pos : self._pos + need]
            self._pos += len(take)
            need -= len(take)
            out.append(take)
        return np.concatenate(out)

    def train_disc(self) -> dict[str, float]:
        """One discriminator step; returns its loss and accuracies."""
        ie = torch.as_tensor(self._expert_batch(), device=self.device)
        ig = self.rng.integers(len(self.gen_rows), size=self.demo_batch_size)
        rows = torch.cat(
            [self._expert_t[ie], torch.as_tensor(self.gen_rows[ig], device=self.device)]
        )
        dones = torch.cat(
            [self._expert_dones[ie], torch.as_tensor(self.gen_dones[ig], device=self.device)]
        )
        labels = torch.zeros(len(rows), device=self.device)
        labels[: self.demo_batch_size] = 1.0
        self.reward.train()
        logits = self.disc_logits(rows, dones)
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        with torch.no_grad():
            n = self.demo_batch_size
            expert_acc = (logits[:n] > 0).float().mean().item()
            gen_acc = (logits[n:] < 0).float().mean().item()
        return {
            "disc_loss": loss.item(),
            "disc_acc": 0.5 * (expert_acc + gen_acc),
            "disc_expert_acc": expert_acc,
            "disc_gen_acc": gen_acc,
        }

    def _store(self, rows: np.ndarray, dones: np.ndarray) -> None:
        self.gen_rows = np.concatenate([self.gen_rows, rows])[-self.capacity :]
        self.gen_dones = np.concatenate([self.gen_dones, dones])[-self.capacity :]

    def train_round(self) -> dict[str, float]:
        """One learner rollout and PPO update, then the discriminator updates."""
        self.learner.learn(
            total_timesteps=self.gen_train_timesteps,
            reset_num_timesteps=False,
            progress_bar=False,
        )
        got = self.venv.pop()
        self._store(got.transitions, got.terminated)
        stats = [self.train_disc() for _ in range(self.n_disc_updates)]
        self.rounds += 1
        entry = {
            "round": float(self.rounds),
            "timesteps": float(self.learner.num_timesteps),
            "episodes": float(len(got.episode_returns)),
        }
        if len(got.rewards):
            entry["learned_reward"] = float(got.rewards.mean())
        if got.episode_returns:  # absent when no episode ended in the round
            entry["env_return"] = float(np.mean(got.episode_returns))
        if stats:
            for key in stats[0]:
                entry[key] = float(np.mean([s[key] for s in stats]))
        self.history.append(entry)
        return entry

    def train(self, total_timesteps: int, *, resume: bool = False) -> AdversarialResult:
        """Train for ``total_timesteps // gen_train_timesteps`` rounds in all.

        With ``resume``, continue from the checkpoint in ``checkpoint_dir`` (if any).
        Global RNG states (Python, NumPy, torch), which SB3 seeds, are restored afterwards.
        """
        n_rounds = total_timesteps // self.gen_train_timesteps
        if n_rounds < 1:
            raise ConfigError(
                f"total_timesteps={total_timesteps} is less than one round of "
                f"gen_train_timesteps={self.gen_train_timesteps} env steps"
            )
        if resume:
            if self.checkpoint_dir is None:
                raise ConfigError("resume=True needs a checkpoint_dir to resume from")
            if (self.checkpoint_dir / "trainer").exists():
                self.load_checkpoint(self.checkpoint_dir)
                logger.info("resumed %s at round %d", type(self).__name__, self.rounds)
        start, start_round = time.perf_counter(), self.rounds
        with isolated_global_state():
            # Seed the global streams PPO samples from, per (seed, round): a run is
            # reproducible, and a resumed run does not replay the first rounds' noise.
            set_random_seed(
                int(np.random.SeedSequence([self.seed, self.rounds]).generate_state(1)[0])
            )
            bar = tqdm(
                total=n_rounds * self.gen_train_timesteps,
                initial=self.rounds * self.gen_train_timesteps,
                desc=type(self).__name__,
                unit="step",
                disable=not self.progress,
                dynamic_ncols=True,
            )
            with bar:
                while self.rounds < n_rounds:
                    entry = self.train_round()
                    bar.update(self.gen_train_timesteps)
                    bar.set_postfix(
                        ret=f"{entry.get('env_return', float('nan')):.1f}",
                        acc=f"{entry.get('disc_acc', float('nan')):.2f}",
                    )
                    logger.debug("%s round %d: %s", type(self).__name__, self.rounds, entry)
                    if self.checkpoint_every and self.rounds % self.checkpoint_every == 0:
                        self.save_checkpoint(self.checkpoint_dir)  # type: ignore[arg-type]
            if self.checkpoint_dir is not None and self.rounds > start_round:
                self.save_checkpoint(self.checkpoint_dir)
        return AdversarialResult(
            reward=self.model(),
            learner=self.learner,
            policy=self.policy(),
            history=list(self.history),
            timesteps=int(self.learner.num_timesteps),
            rounds=self.rounds,
            wall_time_s=time.perf_counter() - start,
        )

    # ------------------------------------------------------------------ outputs
    def training_config(self) -> dict[str, Any]:
        """What produced the reward: loop options, subclass options, progress."""
        return {
            "trainer": type(self).__name__,
            "seed": self.seed,
            "demo_batch_size": self.demo_batch_size,
            "n_disc_updates_per_round": self.n_disc_updates,
            "gen_train_timesteps": self.gen_train_timesteps,
            "gen_replay_buffer_capacity": self.capacity,
            "disc_lr": self.disc_lr,
            "n_envs": self.venv.num_envs,
            "ppo_kwargs": {k: v for k, v in self.ppo_kwargs.items() if _jsonable(v)},
            "rounds_done": self.rounds,
            "timesteps_done": int(self.learner.num_timesteps),
            **self.options(),
        }

    def model(self) -> TorchRewardModel:
        """The reward so far, as an independent copy in eval mode."""
        model = copy.deepcopy(self.reward).eval()
        model.training_config = self.training_config()
        return model

    def policy(self) -> MLPPolicy | None:
        """The learner's actor as an :class:`MLPPolicy` (None for policies it cannot hold)."""
        try:
            return MLPPolicy.from_sb3(self.learner.policy, info={"trainer": type(self).__name__})
        except ConfigError:
            return None

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Write the learner, its actor, the exported reward, then the trainer state (last,
        so a crash leaves the previous complete state in place)."""
        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / ".learner.zip.tmp"  # SB3 keeps a non-empty suffix as given
        self.learner.save(str(tmp))
        os.replace(tmp, root / "learner.zip")
        policy = self.policy()
        if policy is not None:
            policy.save(root / "policy.safetensors")
        self.model().save(root / "reward")
        optim_tensors, optim_meta = _flatten_optimizer(self.optimizer.state_dict())
        tensors = {f"module.{k}": v for k, v in self.reward.state_dict().items()}
        tensors.update(optim_tensors)
        tensors["gen_rows"] = torch.as_tensor(self.gen_rows)
        tensors["gen_dones"] = torch.as_tensor(self.gen_dones)
        tensors["expert_perm"] = torch.as_tensor(self._perm)
        header = {
            "class": "TrainerState",
            "trainer": type(self).__name__,
            "rounds": self.rounds,
            "timesteps": int(self.learner.num_timesteps),
            "expert_pos": self._pos,
            "rng": _to_json(self.rng.bit_generator.state),
            "optimizer": optim_meta,
            "history": self.history,
            "config": self.training_config(),
        }
        write_checkpoint(root / "trainer", tensors, header)

    def load_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Restore a state written by :meth:`save_checkpoint` by the same kind of trainer."""
        root = Path(path)
        tensors, header = read_checkpoint(root / "trainer")
        if header.get("class") != "TrainerState" or header.get("trainer") != type(self).__name__:
            raise CheckpointError(
                f"{root} holds state of {header.get('trainer')!r}, expected {type(self).__name__!r}"
            )
        try:
            self.reward.load_state_dict(_prefixed("module.", tensors))
            self.optimizer.load_state_dict(_unflatten_optimizer(tensors, header["optimizer"]))
        except (RuntimeError, KeyError, ValueError) as exc:
            raise CheckpointError(
                f"{root} does not fit this trainer's reward ({exc}); was it written for a "
                "different network size?"
            ) from exc
        learner_path = root / "learner.zip"
        if not learner_path.is_file():
            raise CheckpointError(f"{root} has a trainer state but no learner.zip")
        learner = PPO.load(str(learner_path), env=self.venv, device=self.device)
        if int(learner.num_timesteps) != int(header["timesteps"]):
            raise CheckpointError(
                f"{learner_path} is at {learner.num_timesteps} env steps but the trainer "
                f"state at {header['timesteps']}: the checkpoint is inconsistent"
            )
        self.learner = learner
        self.gen_rows = tensors["gen_rows"].numpy()
        self.gen_dones = tensors["gen_dones"].numpy().astype(bool)
        self._perm = tensors["expert_perm"].numpy()
        self._pos = int(header["expert_pos"])
        self.rng.bit_generator.state = header["rng"]
        self.rounds = int(header["rounds"])
        self.history = list(header.get("history", []))


def train_adversarial(
    trainer_cls: type[AdversarialTrainer],
    env: EnvSource,
    expert_data: Any,
    make_reward: Callable[[Transitions], TorchRewardModel],
    *,
    total_timesteps: int,
    seed: int,
    device: str | torch.device,
    n_envs: int,
    layout: TransitionLayout | None,
    dones: np.ndarray | None,
    next_observation: Sequence[bool],
    require: Sequence[str],
    resume: bool,
    **trainer_options: Any,
) -> AdversarialResult:
    """What GAIL and AIRL share: the generator's envs, the expert transitions (in a layout
    of the env's spaces, with or without next observations as ``next_observation`` lists),
    the reward built by ``make_reward(expert)`` under ``seed``, and ``trainer_cls``'s
    training loop (``trainer_options``: PPO and discriminator options), all with the global
    RNG state restored afterwards."""
    dev = resolve_device(device)
    with isolated_global_state():
        venv = make_generator_env(env, n_envs=n_envs, seed=seed)
        candidates = [
            env_layout(venv.observation_space, venv.action_space, next_observation=n)
            for n in next_observation
        ]
        expert = load_transitions(
            expert_data, layout=layout, dones=dones, candidates=candidates, require=require
        )
        reward = seeded(lambda: make_reward(expert), seed)
        trainer = trainer_cls(reward, expert, venv, seed=seed, device=dev, **trainer_options)
        return trainer.train(total_timesteps, resume=resume)


def _jsonable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | type(None))


def _to_json(state: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _to_json(v) if isinstance(v, dict) else v for k, v in state.items()}
