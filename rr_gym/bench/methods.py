"""Reward-learning methods as small adapters with one interface: ``fit(context) -> Fitted``.

Each adapter turns a pair's data (and, for the diffusion-based ones, the pair's base and
expert diffusion models) into a :class:`~rr_gym.rewards.base.RewardModel`, or a policy
for behaviour cloning, by calling the library with plain arguments:

==========================  ==================================================  =========
method                      library call                                        produces
==========================  ==================================================  =========
``relative_reward``         :func:`rr_gym.extract_reward`                       reward
``discriminator``           :func:`rr_gym.baselines.train_discriminator`        reward
``noised_discriminator``    :func:`rr_gym.baselines.train_noised_discriminator` reward
``gail``                    :func:`rr_gym.baselines.train_gail`                 reward
``airl``                    :func:`rr_gym.baselines.train_airl`                 reward
``bc``                      :func:`rr_gym.baselines.train_bc`                   policy
``true_reward``             :class:`rr_gym.rewards.PointMazeTrueReward` (maze),  reward
                            the env's own reward elsewhere (``None``)
==========================  ==================================================  =========

Sizes (steps, batch sizes) come from the pair's ``sizes`` (section named by the adapter);
a key set in the method's config wins. Add a method with :func:`register_method`
(docs/extending.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np

from rr_gym.bench.data import PairData
from rr_gym.bench.pairs import PairSpec
from rr_gym.errors import ConfigError
from rr_gym.layout import TransitionLayout

__all__ = [
    "METHODS",
    "DiffusionModels",
    "FitContext",
    "Fitted",
    "Method",
    "Produces",
    "register_method",
]

Produces = Literal["reward", "policy"]


class DiffusionModels(NamedTuple):
    """A pair's base and expert diffusion models (shared schedule and normaliser)."""

    base: Any
    expert: Any


@dataclass
class FitContext:
    """Everything a method's ``fit`` may use.

    Attributes:
        pair: the dataset pair.
        data: lazy train / held-out views of its datasets.
        seed: the training seed.
        options: the method's config (minus ``kind``).
        device: torch device string.
        progress: show progress bars.
        work_dir: persistent folder for checkpoints (a rerun resumes from them).
        models: loads the pair's diffusion models (for methods with ``needs_diffusion``).
        agent_env: makes the task's env with flat observations (for GAIL/AIRL learners).
        window_shape: ``horizon``, ``stride``, ``tail`` of the diffusion models' windows.
    """

    pair: PairSpec
    data: PairData
    seed: int
    options: dict[str, Any]
    device: str = "cpu"
    progress: bool = True
    work_dir: Path | None = None
    models: Callable[[], DiffusionModels] | None = None
    agent_env: Callable[[], Any] | None = None
    window_shape: dict[str, Any] | None = None

    def size(self, section: str, key: str, default: Any = None) -> Any:
        """``options[key]`` when set, else ``pair.sizes[section][key]``, else ``default``."""
        if self.options.get(key) is not None:
            return self.options[key]
        value = (self.pair.sizes.get(section) or {}).get(key)
        return default if value is None else value

    def diffusion(self) -> DiffusionModels:
        """The pair's diffusion models.

        Raises:
            ConfigError: the bench gave none (the method lacks ``needs_diffusion``).
        """
        if self.models is None:
            raise ConfigError("this method needs the pair's diffusion models; set needs_diffusion")
        return self.models()

    def checkpoints(self, name: str, every: int) -> dict[str, Any]:
        """Keyword arguments of a resumable trainer: checkpoints under ``work_dir / name``
        every ``every`` steps (or rounds), resuming from the last one if any."""
        if self.work_dir is None:
            return {}
        return {
            "checkpoint_dir": self.work_dir / name,
            "checkpoint_every": max(1, int(every)),
            "resume": True,
        }


@dataclass
class Fitted:
    """What ``fit`` returns.

    Attributes:
        model: a RewardModel, a policy (``produces = "policy"``), or None for "the env's
            own reward" (the true-reward ceiling of tasks without a reward model).
        info: JSON-friendly facts (training history summary, timesteps...).
    """

    model: Any
    info: dict[str, Any] = field(default_factory=dict)


class Method:
    """Base class of method adapters."""

    #: ``"reward"`` (a RewardModel, evaluated and retrained on) or ``"policy"``.
    produces: ClassVar[Produces] = "reward"
    #: Whether ``fit`` uses the pair's diffusion models.
    needs_diffusion: ClassVar[bool] = False
    #: Sections of the pair's sizes that ``fit`` reads (part of the cache key).
    size_sections: ClassVar[tuple[str, ...]] = ()

    def fit(self, ctx: FitContext) -> Fitted:
        """Train on ``ctx`` and return the model."""
        raise NotImplementedError


#: Registered method adapters by kind.
METHODS: dict[str, Method] = {}


def register_method(kind: str) -> Callable[[type[Method]], type[Method]]:
    """Class decorator registering a :class:`Method` under ``kind``."""

    def wrap(cls: type[Method]) -> type[Method]:
        METHODS[kind] = cls()
        return cls

    return wrap


def _flat_layout(ctx: FitContext, next_observation: bool) -> TransitionLayout:
    t = ctx.data.transitions("expert", "train")
    fields = [("observation", t.obs.shape[1]), ("action", t.act.shape[1])]
    if next_observation:
        fields.append(("next_observation", t.obs.shape[1]))
    return TransitionLayout(fields=tuple(fields), observation_key=None)


def _history_tail(history: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(v) for k, v in (history[-1] if history else {}).items()}


@register_method("relative_reward")
class RelativeRewardMethod(Method):
    """The paper's method: gradient matching between the base and expert models."""

    needs_diffusion = True
    size_sections = ("reward",)

    def fit(self, ctx: FitContext) -> Fitted:
        import rr_gym

        models = ctx.diffusion()
        shape = ctx.window_shape or {"horizon": models.base.horizon}
        both = np.concatenate(
            [
                ctx.data.windows("base", **shape).windows,
                ctx.data.windows("expert", **shape).windows,
            ]
        )
        extra = {
            k: ctx.options[k]
            for k in ("target", "eval_at", "l2", "source", "depth", "time_dim", "lr")
            if ctx.options.get(k) is not None
        }
        reward = rr_gym.extract_reward(
            models.base,
            models.expert,
            both,
            steps=int(ctx.size("reward", "steps")),
            batch_size=int(ctx.size("reward", "batch_size", 256)),
            window=int(ctx.options.get("window") or 1),
            hidden_dim=int(ctx.size("reward", "hidden_dim", 256)),
            seed=ctx.seed,
            device=ctx.device,
            progress=ctx.progress,
            **extra,
            **ctx.checkpoints("gradient_matching", int(ctx.size("reward", "steps")) // 4),
        )
        return Fitted(reward, {"windows": len(both)})


@register_method("discriminator")
class DiscriminatorMethod(Method):
    """Offline expert-vs-base classifier of transitions; the logit is the reward."""

    size_sections = ("reward",)

    def fit(self, ctx: FitContext) -> Fitted:
        from rr_gym.baselines import train_discriminator

        result = train_discriminator(
            ctx.data.windows("base", horizon=1),
            ctx.data.windows("expert", horizon=1),
            steps=int(ctx.size("reward", "steps")),
            batch_size=int(ctx.size("reward", "batch_size", 256)),
            hidden_sizes=tuple(ctx.options.get("hidden_sizes") or (256, 256)),
            seed=ctx.seed,
            device=ctx.device,
            progress=ctx.progress,
            **ctx.checkpoints("discriminator", int(ctx.size("reward", "steps")) // 4),
        )
        return Fitted(result.reward, _history_tail(result.history))


@register_method("noised_discriminator")
class NoisedDiscriminatorMethod(Method):
    """The paper's baseline: a time-conditioned classifier of noised windows."""

    needs_diffusion = True
    size_sections = ("reward",)

    def fit(self, ctx: FitContext) -> Fitted:
        from rr_gym.baselines import train_noised_discriminator

        models = ctx.diffusion()
        shape = ctx.window_shape or {"horizon": models.base.horizon}
        result = train_noised_discriminator(
            ctx.data.windows("base", **shape),
            ctx.data.windows("expert", **shape),
            diffusion=models.base,
            steps=int(ctx.size("reward", "steps")),
            batch_size=int(ctx.size("reward", "batch_size", 256)),
            hidden_dim=int(ctx.size("reward", "hidden_dim", 256)),  # the relative reward's width
            window=int(ctx.options.get("window") or 1),
            seed=ctx.seed,
            device=ctx.device,
            progress=ctx.progress,
            **ctx.checkpoints("noised_discriminator", int(ctx.size("reward", "steps")) // 4),
        )
        return Fitted(result.reward, _history_tail(result.history))


class _AdversarialMethod(Method):
    """GAIL and AIRL: a PPO learner in the task's env against the expert transitions."""

    next_observation: ClassVar[bool] = False
    size_sections = ("adversarial",)

    def train(self, ctx: FitContext, **kwargs: Any) -> Any:
        raise NotImplementedError

    def fit(self, ctx: FitContext) -> Fitted:
        if ctx.agent_env is None:
            raise ConfigError(f"{type(self).__name__} needs the task's env (agent_env)")
        t = ctx.data.transitions("expert", "train")
        blocks = [t.obs, t.act] + ([t.next_obs] if self.next_observation else [])
        rows = np.concatenate(blocks, axis=1).astype(np.float32)
        ppo = {"n_steps": 512, "batch_size": 64, **(ctx.options.get("ppo_kwargs") or {})}
        timesteps = int(ctx.size("adversarial", "total_timesteps"))
        n_envs = int(ctx.size("adversarial", "n_envs", 4))
        # At least one whole round (n_steps * n_envs env steps) must fit the budget.
        ppo["n_steps"] = max(2, min(int(ppo["n_steps"]), timesteps // n_envs))
        ppo["batch_size"] = min(int(ppo["batch_size"]), ppo["n_steps"] * n_envs)
        result = self.train(
            ctx,
            env=ctx.agent_env,
            expert_data=rows,
            layout=_flat_layout(ctx, self.next_observation),
            dones=t.terminals,
            total_timesteps=timesteps,
            n_envs=n_envs,
            ppo_kwargs=ppo,
            demo_batch_size=int(min(ctx.size("adversarial", "demo_batch_size", 1024), len(rows))),
            seed=ctx.seed,
            device=ctx.device,
            progress=ctx.progress,
            **ctx.checkpoints("adversarial", 5),
        )
        info = {"timesteps": result.timesteps, "rounds": result.rounds}
        returns = [h["env_return"] for h in result.history if "env_return" in h]
        if returns:
            info["last_env_return"] = float(returns[-1])
        return Fitted(result.reward, info)


@register_method("gail")
class GAILMethod(_AdversarialMethod):
    """GAIL (SB3 PPO learner); the reward is the discriminator's logit."""

    def train(self, ctx: FitContext, **kwargs: Any) -> Any:
        from rr_gym.baselines import train_gail

        kwargs.pop("dones")  # GAIL's discriminator does not read terminations
        return train_gail(**kwargs)


@register_method("airl")
class AIRLMethod(_AdversarialMethod):
    """AIRL (SB3 PPO learner); the reward is the unshaped ``g(s, a)``."""

    next_observation = True

    def train(self, ctx: FitContext, **kwargs: Any) -> Any:
        from rr_gym.baselines import train_airl

        return train_airl(state_only=bool(ctx.options.get("state_only", False)), **kwargs)


@register_method("bc")
class BCMethod(Method):
    """Behaviour cloning of the expert data: a policy, only in the retraining table."""

    produces = "policy"
    size_sections = ("bc",)

    def fit(self, ctx: FitContext) -> Fitted:
        import gymnasium as gym

        from rr_gym.baselines import train_bc

        t = ctx.data.transitions("expert", "train")
        env = ctx.pair.kind_impl.make_env(ctx.pair)
        space = env.action_space
        env.close()
        result = train_bc(
            (t.obs, t.act),
            steps=int(ctx.size("bc", "steps")),
            batch_size=int(min(ctx.size("bc", "batch_size", 256), len(t.obs))),
            action_space=space if isinstance(space, gym.spaces.Box) else None,
            seed=ctx.seed,
            device=ctx.device,
            progress=ctx.progress,
            **ctx.checkpoints("bc", int(ctx.size("bc", "steps")) // 4),
        )
        return Fitted(result.policy, _history_tail(result.history))


@register_method("true_reward")
class TrueRewardMethod(Method):
    """The ceiling: the task's own reward (a RewardModel where one exists, else None)."""

    def fit(self, ctx: FitContext) -> Fitted:
        if ctx.pair.kind == "maze":
            from rr_gym.rewards.true_reward import PointMazeTrueReward

            unit = ctx.pair.base.unit
            return Fitted(PointMazeTrueReward(reward_type=unit.get("reward_type", "sparse")))
        return Fitted(None, {"reward": "the env's own"})
