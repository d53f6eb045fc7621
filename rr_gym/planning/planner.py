"""A diffusion planner: sample trajectories from a base model, optionally steered by a reward,
and act with the first action of the plan (Diffuser-style receding horizon control)."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import gymnasium as gym
import numpy as np
import torch

from rr_gym.diffusion.conditioning import Inpainting
from rr_gym.diffusion.gaussian import GaussianDiffusion, Sampler
from rr_gym.diffusion.guidance import GuidanceConfig, GuideFn
from rr_gym.errors import ConfigError, DataError, IncompatibleModelsError
from rr_gym.rewards.base import TorchRewardModel
from rr_gym.rewards.reward_gradient import RewardGradient
from rr_gym.utils.validation import check_finite

__all__ = ["DiffusionPlanner", "Plan"]

GuidePoint = Literal["x_t", "posterior_mean"]


class Plan(NamedTuple):
    """Trajectories planned for a batch of observations, in raw (unnormalised) space.

    Attributes:
        trajectories: ``(B, H, D)`` planned transitions; step 0 holds the observation.
        actions: ``(B, H, action_dim)`` the plan's actions (clipped to the action space).
    """

    trajectories: np.ndarray
    actions: np.ndarray


class DiffusionPlanner:
    """Plans with a diffusion model of trajectories and acts with the plan's first action.

    For each observation the planner samples a trajectory of the model's horizon whose
    first observation is imposed by inpainting, optionally steering every denoising step
    with the gradient of a reward (the relative reward, an IRL baseline's reward, any
    :class:`~rr_gym.rewards.base.TorchRewardModel`, or any :class:`~rr_gym.diffusion.GuideFn`
    callable), and returns the plan's first action. With ``replan_every = k`` the next
    ``k - 1`` calls execute the following actions of the same plan (open loop).

    Sampling runs on the diffusion model's device; a reward guide is moved there. No
    gradient is tracked except the guide's own input gradient.

    Args:
        diffusion: the (base) model to sample plans from; its layout needs the fields
            ``"observation"`` and ``"action"``.
        guide: a reward model or a ``GuideFn``; ``None`` plans unguided.
        scale: guidance step size.
        t_stopgrad: no guidance at diffusion steps below this.
        n_guide_steps: guidance steps per diffusion step.
        scale_by_variance: multiply the guide's gradient by the posterior variance of the
            step (Diffuser's default; see :class:`~rr_gym.diffusion.GuidanceConfig`).
        guide_at: where a reward's gradient is taken: ``"x_t"`` (official sampler) or the
            base model's posterior mean (as the relative reward is trained by default).
        sampler: ``"ddpm"`` (all T steps) or ``"ddim"``.
        n_steps: DDIM steps (default T).
        eta: DDIM stochasticity.
        clip_denoised: clip each step's predicted clean plan to ``[-c, c]`` in the model's
            normalised space (``None``: the model's own ``clip_denoised``). Diffuser clips
            to its normaliser's range; with rr_gym's Gaussian normalisers a few standard
            deviations (e.g. 5) keeps a weakly trained model's chain from diverging (on
            Hopper an unclipped MLP model's plans reached 200 standard deviations).
        replan_every: environment steps between plans (1 = replan at every step).
        action_space: clip actions into this Box (usually ``env.action_space``).
        seed: seed of the planner's own sampling generator.

    Shapes:
        ``predict(obs)``: ``obs`` of one environment (``(obs_dim,)`` or a dict of such)
        returns ``(action_dim,)``; a batch ``(B, obs_dim)`` (or a dict of such, as vector
        envs return) returns ``(B, action_dim)``.

    Example:
        >>> from rr_gym.diffusion import GaussianDiffusion, MLPDenoiser, NoiseSchedule
        >>> from rr_gym.layout import TransitionLayout
        >>> layout = TransitionLayout.from_sizes(observation=3, action=1)
        >>> model = GaussianDiffusion(MLPDenoiser(4, 4), NoiseSchedule(10), layout=layout)
        >>> planner = DiffusionPlanner(model, sampler="ddim", n_steps=5)
        >>> planner.predict(np.zeros(3)).shape, planner.predict(np.zeros((8, 3))).shape
        ((1,), (8, 1))
    """

    def __init__(
        self,
        diffusion: GaussianDiffusion,
        guide: TorchRewardModel | GuideFn | None = None,
        *,
        scale: float = 0.1,
        t_stopgrad: int = 0,
        n_guide_steps: int = 1,
        scale_by_variance: bool = True,
        guide_at: GuidePoint = "x_t",
        sampler: Sampler = "ddpm",
        n_steps: int | None = None,
        eta: float = 0.0,
        clip_denoised: float | None = None,
        replan_every: int = 1,
        action_space: gym.spaces.Box | None = None,
        seed: int = 0,
    ) -> None:
        layout = diffusion.layout
        for name in ("observation", "action"):
            if name not in layout:
                raise ConfigError(
                    f"the diffusion model's layout {layout} has no {name!r} field; a planner "
                    "needs observations to impose and actions to execute"
                )
        if replan_every < 1 or replan_every > diffusion.horizon:
            raise ConfigError(
                f"replan_every={replan_every}; expected 1..{diffusion.horizon} (the horizon)"
            )
        if sampler not in ("ddpm", "ddim"):
            raise ConfigError(f"sampler={sampler!r}; expected 'ddpm' or 'ddim'")
        diffusion.timesteps(sampler, n_steps)  # validates n_steps
        self.diffusion = diffusion.eval().requires_grad_(False)
        self.device = diffusion.device
        self.layout = layout
        self.guidance: GuidanceConfig | None = None
        if guide is not None:
            if isinstance(guide, TorchRewardModel):
                _check_reward_fits(guide, diffusion)
                guide.to(self.device).eval().requires_grad_(False)
                guide = RewardGradient(guide, at=guide_at, diffusion=diffusion)
            elif not callable(guide):
                raise ConfigError(
                    f"guide is a {type(guide).__name__}; expected a TorchRewardModel, a "
                    "callable GuideFn (x, t) -> gradient, or None"
                )
            self.guidance = GuidanceConfig(
                guide,
                scale=scale,
                t_stopgrad=t_stopgrad,
                n_guide_steps=n_guide_steps,
                scale_by_variance=scale_by_variance,
            )
        self.sampler: Sampler = sampler
        self.n_steps = n_steps
        self.eta = eta
        if clip_denoised is not None and not clip_denoised > 0:
            raise ConfigError(
                f"clip_denoised={clip_denoised!r}; expected a positive number or None"
            )
        self.clip_denoised = clip_denoised
        self.replan_every = replan_every
        self.action_space = action_space
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self._obs_slice = layout.slice("observation")
        self._act_slice = layout.slice("action")
        self._obs_dim = self._obs_slice.stop - self._obs_slice.start
        self._actions: np.ndarray | None = None  # (B, H, action_dim) of the current plans
        self._age: np.ndarray | None = None  # (B,) steps executed of each plan

    # ------------------------------------------------------------------ acting
    def predict(
        self, observation: Any, *, episode_start: np.ndarray | bool | None = None
    ) -> np.ndarray:
        """The action for one observation, or the actions ``(B, action_dim)`` for a batch.

        Args:
            observation: an environment observation (array or dict), single or batched.
            episode_start: ``(B,)`` bool (or a bool for a single env), True where an episode
                just began: those environments get a fresh plan even when ``replan_every >
                1``. Vector envs report this as ``terminated | truncated`` of the previous
                step.
        """
        obs, single = self._observation_batch(observation)
        batch = len(obs)
        fresh = self._actions is None or self._actions.shape[0] != batch
        if fresh:
            self._actions = np.zeros((batch, self.diffusion.horizon, self._act_dim), np.float32)
            self._age = np.full(batch, self.replan_every, dtype=np.int64)
        assert self._actions is not None and self._age is not None
        if episode_start is not None:
            self._age[np.broadcast_to(np.asarray(episode_start, dtype=bool), (batch,))] = (
                self.replan_every
            )
        stale = np.flatnonzero(self._age >= self.replan_every)
        if len(stale):
            self._actions[stale] = self.plan(obs[stale]).actions
            self._age[stale] = 0
        actions = self._actions[np.arange(batch), self._age]
        self._age += 1
        return actions[0] if single else actions

    def reset(self) -> None:
        """Forget the current plans (the next call plans afresh for every environment)."""
        self._actions = None
        self._age = None

    def plan(self, observation: Any) -> Plan:
        """Plan from a batch of observations (array ``(B, obs_dim)`` or dict of such).

        Returns:
            The planned trajectories and their actions in raw space.
        """
        obs, _ = self._observation_batch(observation)
        norm = self.diffusion.normalizer
        state = torch.as_tensor(obs, device=self.device)
        # Normalise the observation field alone: pad it into a transition vector.
        padded = torch.zeros(len(obs), self.layout.dim, device=self.device)
        padded[:, self._obs_slice] = state
        start = norm.normalize(padded)[:, self._obs_slice]
        cond = Inpainting.current_state(start, self.layout, self.diffusion.horizon)
        result = self.diffusion.sample(
            len(obs),
            inpainting=cond,
            guidance=self.guidance,
            sampler=self.sampler,
            n_steps=self.n_steps,
            eta=self.eta,
            generator=self.generator,
            clip_denoised=self.clip_denoised,
        )
        raw = norm.unnormalize(result.x).float().cpu().numpy()
        actions = raw[..., self._act_slice]
        if self.action_space is not None:
            actions = np.clip(actions, self.action_space.low, self.action_space.high)
        return Plan(trajectories=raw, actions=actions.astype(np.float32))

    # ------------------------------------------------------------------ helpers
    @property
    def _act_dim(self) -> int:
        return self._act_slice.stop - self._act_slice.start

    def _observation_batch(self, observation: Any) -> tuple[np.ndarray, bool]:
        """``(B, obs_dim)`` float32 from a single or batched (dict) observation."""
        key = self.layout.observation_key
        if isinstance(observation, dict):
            if key is None or key not in observation:
                raise DataError(
                    f"observation is a dict with keys {sorted(observation)}; the model's "
                    f"layout {self.layout} reads observation_key={key!r}"
                )
            observation = observation[key]
        obs = np.asarray(observation, dtype=np.float32)
        single = obs.ndim == 1
        if single:
            obs = obs[None]
        if obs.ndim != 2 or obs.shape[1] != self._obs_dim:
            raise DataError(
                f"observation has shape {np.shape(observation)}; expected ({self._obs_dim},) "
                f"or (B, {self._obs_dim}) for the model's layout {self.layout}"
            )
        check_finite(obs, "observation")
        return obs, single


def _check_reward_fits(reward: TorchRewardModel, diffusion: GaussianDiffusion) -> None:
    """Refuse a reward that reads another layout or normaliser than the planner's model."""
    if reward.layout != diffusion.layout:
        raise IncompatibleModelsError(
            f"guide reward has layout {reward.layout}, the diffusion model {diffusion.layout}; "
            "a guide must be trained on the model's transition layout"
        )
    if reward.normalizer != diffusion.normalizer:
        raise IncompatibleModelsError(
            f"guide reward has {reward.normalizer!r}, the diffusion model "
            f"{diffusion.normalizer!r}; train the guide with the model's normaliser"
        )
    schedule = getattr(reward, "schedule", None)
    if schedule and schedule != diffusion.schedule.to_dict():
        raise IncompatibleModelsError(
            f"guide reward was trained with schedule {schedule}, the diffusion model has "
            f"{diffusion.schedule.to_dict()}; its diffusion steps t would not match"
        )
    if reward.window > diffusion.horizon:
        raise IncompatibleModelsError(
            f"guide reward window {reward.window} exceeds the model's horizon {diffusion.horizon}"
        )
