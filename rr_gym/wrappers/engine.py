"""The reward computation shared by the single, vector and SB3 wrappers.

:class:`RewardEngine` holds, for ``N`` environments, the previous observations, the window
histories, the reward model's fast evaluator and the options (mode, scale, running
normalisation, NaN policy). A wrapper tells it when environments reset and what each step
returned; it answers the rewards.

Per step, for each environment: the transition ``(obs, action, next_obs[, env_reward])`` is
built in the reward model's layout, appended to the environment's window, the window is
scored at diffusion step 0 (raw model reward), optionally divided by a running standard
deviation, multiplied by ``scale`` and, with ``mode="add"``, added to the env's reward.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple

import gymnasium as gym
import numpy as np

from rr_gym.checkpoint import Checkpointable
from rr_gym.checkpoint import load as load_checkpoint
from rr_gym.errors import ConfigError, DataError, IncompatibleModelsError
from rr_gym.reward_options import NanPolicy, RewardMode, RewardOptions
from rr_gym.rewards.base import RewardModel
from rr_gym.wrappers.running_norm import RunningRewardNorm
from rr_gym.wrappers.scoring import RewardScorer
from rr_gym.wrappers.transitions import ObsParts, TransitionBuilder, WindowHistory

__all__ = [
    "EngineWrapper",
    "RewardEngine",
    "RewardModelRef",
    "StepRewards",
    "resolve_reward_model",
]

logger = logging.getLogger(__name__)


class RewardModelRef:
    """What a wrapper records in its spec for a reward model passed as an object.

    A checkpoint path is recorded as the path (JSON-friendly). An in-memory model is kept,
    wrapped in this reference, so that ``gym.make(env.spec)`` rebuilds the env in the same
    process, as Gymnasium does for callables given to its own wrappers; such a spec is not
    JSON-serialisable (save the model and pass its path for that). Two references are equal
    when they hold the same model or models of the same class with identical checkpoints,
    so a spec copied by Gymnasium still matches the env it describes.
    """

    def __init__(self, model: RewardModel) -> None:
        self.model = model

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RewardModelRef):
            return NotImplemented
        a, b = self.model, other.model
        if a is b:
            return True
        if type(a) is not type(b) or not isinstance(a, Checkpointable):
            return False
        assert isinstance(b, Checkpointable)
        (ta, ca), (tb, cb) = a.checkpoint_state(), b.checkpoint_state()
        return (
            json.dumps(ca, sort_keys=True, default=str)
            == json.dumps(cb, sort_keys=True, default=str)
            and ta.keys() == tb.keys()
            and all(ta[k].shape == tb[k].shape and bool((ta[k] == tb[k]).all()) for k in ta)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RewardModelRef(<in-memory {type(self.model).__name__}>)"


def resolve_reward_model(
    reward_model: Any, device: str = "cpu"
) -> tuple[RewardModel, str | RewardModelRef]:
    """The reward model to use and what to record for it in an env spec.

    Args:
        reward_model: a :class:`~rr_gym.rewards.RewardModel`, a :class:`RewardModelRef`, or
            the path of a checkpoint saved with ``model.save(path)``.
        device: where a checkpoint is loaded.

    Returns:
        ``(model, recorded)``: ``recorded`` is the path as a ``str`` for checkpoints, else a
        :class:`RewardModelRef`.

    Raises:
        ConfigError: not a reward model, or a checkpoint that holds something else.
        CheckpointError: an unreadable checkpoint.
    """
    if isinstance(reward_model, RewardModelRef):
        reward_model = reward_model.model
    if isinstance(reward_model, (str, os.PathLike)):
        path = os.fspath(reward_model)
        obj = load_checkpoint(path, device=device)
        if not isinstance(obj, RewardModel):
            raise ConfigError(
                f"checkpoint {path!r} holds a {type(obj).__name__}, not a reward model; "
                "expected a RewardModel checkpoint (e.g. a RelativeRewardModel's)"
            )
        return obj, path
    if isinstance(reward_model, RewardModel):
        return reward_model, RewardModelRef(reward_model)
    raise ConfigError(
        f"reward_model={reward_model!r} ({type(reward_model).__name__}); expected a RewardModel "
        "or the path of one saved with model.save(path)"
    )


def _recorded_shapes(serialised: Any) -> dict[str, tuple[int, ...]] | None:
    """Shapes of a Box or Dict-of-Boxes space in Minari's serialised form, by key."""
    try:
        data = json.loads(serialised) if isinstance(serialised, str) else serialised
        if data["type"] == "Box":
            return {"": tuple(int(v) for v in data["shape"])}
        if data["type"] == "Dict":
            return {
                k: tuple(int(v) for v in sub["shape"])
                for k, sub in data["subspaces"].items()
                if sub.get("type") == "Box"
            }
    except (TypeError, KeyError, ValueError, AttributeError):
        return None
    return None


def _env_shapes(space: gym.Space[Any]) -> dict[str, tuple[int, ...]]:
    if isinstance(space, gym.spaces.Dict):
        return {k: tuple(s.shape) for k, s in space.spaces.items() if isinstance(s, gym.spaces.Box)}
    return {"": tuple(space.shape or ())}


def check_recorded_spaces(
    model: RewardModel, observation_space: gym.Space[Any], action_space: gym.Space[Any]
) -> None:
    """Refuse an env whose spaces differ in shape from those recorded with the model.

    Models trained on rr_gym datasets record the dataset's spaces in ``metadata``
    (``observation_space``, ``action_space``); models without them are not checked here.

    Raises:
        IncompatibleModelsError: naming both shapes.
    """
    metadata = getattr(model, "metadata", None) or {}
    for name, space in (("observation_space", observation_space), ("action_space", action_space)):
        recorded = _recorded_shapes(metadata.get(name))
        if recorded is None:
            continue
        have = _env_shapes(space)
        if recorded != have:
            raise IncompatibleModelsError(
                f"the reward model was trained with {name} shapes {recorded} but the env's "
                f"{name} has shapes {have} ({space})"
            )


class StepRewards(NamedTuple):
    """Rewards of one step of ``N`` environments.

    Attributes:
        reward: what the agent receives, float64 ``(N,)`` (0 where not ``scored``).
        model_reward: the reward model's raw output, float32 ``(N,)`` (0 where not scored).
        scored: bool ``(N,)``: which environments' transitions were scored.
    """

    reward: np.ndarray
    model_reward: np.ndarray
    scored: np.ndarray


class RewardEngine:
    """Learned rewards of the transitions of ``N`` environments (see the module docstring).

    Args:
        reward_model: the reward (see :func:`resolve_reward_model` for paths).
        observation_space: one environment's observation space.
        action_space: one environment's action space.
        num_envs: number of environments ``N``.
        options: mode, scale, normalisation, NaN policy and scoring backend
            (:class:`~rr_gym.reward_options.RewardOptions`; its ``device`` is where a
            wrapper loads a checkpoint, not used here). With ``nan_policy="zero"``, a step
            whose transition or model output is not finite is not added to the window
            history, and :attr:`nonfinite_count` counts such steps.

    Raises:
        ConfigError: an invalid option.
        IncompatibleModelsError: a layout or recorded spaces that do not fit the env.
    """

    def __init__(
        self,
        reward_model: RewardModel,
        observation_space: gym.Space[Any],
        action_space: gym.Space[Any],
        num_envs: int,
        options: RewardOptions | None = None,
    ) -> None:
        options = options if options is not None else RewardOptions()
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ConfigError(f"num_envs={num_envs!r}; expected a positive int")
        self.model = reward_model
        self.builder = TransitionBuilder(reward_model.layout, observation_space, action_space)
        check_recorded_spaces(reward_model, observation_space, action_space)
        self.num_envs = num_envs
        self.options = options
        self.norm = (
            RunningRewardNorm(center=options.norm_center, clip=options.norm_clip)
            if options.normalize
            else None
        )
        self.history = WindowHistory(num_envs, int(reward_model.window), self.builder.dim)
        self.scorer = RewardScorer(reward_model, options.backend)
        self.nonfinite_count = 0
        self._x = np.zeros((num_envs, self.builder.dim), dtype=np.float32)
        self._all_valid = np.ones(num_envs, dtype=bool)
        self._prev: ObsParts | None = None
        self.first_env_index = 0
        """Index of row 0 in messages: a one-env engine inside a vector env's worker names
        its env by the worker's index."""

    @property
    def mode(self) -> RewardMode:
        """``options.mode``."""
        return self.options.mode

    @property
    def scale(self) -> float:
        """``options.scale``."""
        return float(self.options.scale)

    @property
    def nan_policy(self) -> NanPolicy:
        """``options.nan_policy``."""
        return self.options.nan_policy

    def reset(self, obs: Any, rows: np.ndarray | None = None) -> None:
        """Start new episodes from batched ``obs`` for all environments or boolean ``rows``."""
        parts = self.builder.extract(obs, self.num_envs)
        if rows is None or self._prev is None:
            self._prev = parts
            self.history.reset()
            return
        for key, value in parts.items():
            self._prev[key][rows] = value[rows]
        self.history.reset(rows)

    def step(
        self,
        action: Any,
        next_obs: Any,
        env_reward: Any,
        *,
        rows: np.ndarray | None = None,
        final_obs: Mapping[int, Any] | None = None,
    ) -> StepRewards:
        """Score one step of every environment.

        Args:
            action: batched actions ``(N, ...)``.
            next_obs: batched observations returned by the step; they become the previous
                observations of the next step.
            env_reward: the env's rewards ``(N,)``.
            rows: boolean ``(N,)``: environments whose step is a real transition (others,
                e.g. autoreset steps, are not scored and get reward 0); ``None``: all.
            final_obs: ``{i: observation}`` of environments that ended and were reset in
                this step (same-step autoreset): their transition ends in this observation
                instead of ``next_obs[i]``.

        Returns:
            :class:`StepRewards`.

        Raises:
            gymnasium.error.ResetNeeded: no reset yet.
            DataError: non-finite values with ``nan_policy="raise"``.
        """
        if self._prev is None:
            raise gym.error.ResetNeeded("reset the environment before stepping it")
        n = self.num_envs
        nxt = self.builder.extract(next_obs, n)
        scored_nxt = nxt
        if final_obs:
            scored_nxt = {key: value.copy() for key, value in nxt.items()}
            for i, obs in final_obs.items():
                one = self.builder.extract_one(obs)
                for key, value in scored_nxt.items():
                    value[i] = one[key][0]
        env_r = np.asarray(env_reward, dtype=np.float64).reshape(n)
        x = self.builder.build(self._prev, action, scored_nxt, env_r, out=self._x)
        self._prev = nxt
        # A finite sum implies finite entries (NaN and inf propagate); an overflowing sum
        # only sends finite data down the exact per-row path.
        if (
            rows is None
            and math.isfinite(np.add.reduce(x, axis=None))
            and (self.options.mode != "add" or math.isfinite(np.add.reduce(env_r)))
        ):
            valid, all_valid = self._all_valid, True
        else:
            ok = np.isfinite(x).all(axis=1)
            if self.options.mode == "add":
                ok &= np.isfinite(env_r)
            valid = ok if rows is None else ok & rows
            all_valid = bool(valid.all())
            bad = ~ok if rows is None else ~ok & rows
            if bad.any():
                self._nonfinite(bad, x, env_r, "transition")
        windows = self.history.push(x, None if all_valid else valid)
        model_r = self.scorer(windows)
        if not math.isfinite(np.add.reduce(model_r, dtype=np.float64)):
            fin = np.isfinite(model_r)
            bad = valid & ~fin
            if bad.any():
                self._nonfinite(bad, x, env_r, "model")
                valid = valid & fin
                all_valid = False
        reward = model_r.astype(np.float64)
        if not all_valid:
            reward[~valid] = 0.0
            model_r = np.where(valid, model_r, np.float32(0.0))
        if self.norm is not None:
            self.norm.update(reward if all_valid else reward[valid])
            reward = self.norm.normalize(reward).astype(np.float64)
            if not all_valid:
                reward[~valid] = 0.0
        if self.options.scale != 1.0:
            reward *= self.options.scale
        if self.options.mode == "add":
            reward += env_r if all_valid else np.where(np.isfinite(env_r), env_r, 0.0)
        return StepRewards(reward, model_r, valid.copy())

    def _nonfinite(self, bad: np.ndarray, x: np.ndarray, env_r: np.ndarray, what: str) -> None:
        i = int(np.flatnonzero(bad)[0])
        env = f"env {i + self.first_env_index}"
        if what == "model":
            msg = (
                f"the reward model returned a non-finite reward for {env}'s window "
                f"(transition {x[i].tolist()})"
            )
        elif not np.isfinite(x[i]).all():
            col = int(np.flatnonzero(~np.isfinite(x[i]))[0])
            field = self.builder.field_at(col)
            sl = self.model.layout.slice(field)
            msg = (
                f"{env}'s transition has a non-finite value in layout field {field!r}: "
                f"{x[i, sl].tolist()}"
            )
        else:
            msg = f"{env} returned a non-finite reward {float(env_r[i])} (mode='add')"
        if self.options.nan_policy == "raise":
            raise DataError(
                f"{msg}; expected finite values. Pass nan_policy='zero' to score such steps 0"
            )
        if self.nonfinite_count == 0:
            logger.warning("%s; its learned reward is 0 (nan_policy='zero')", msg)
        self.nonfinite_count += int(bad.sum())


class EngineWrapper:
    """What the three reward wrappers share on top of their :class:`RewardEngine`.

    A wrapper sets ``self._engine``. :attr:`option_names` are the keyword options it takes
    through ``**options`` (:class:`~rr_gym.reward_options.RewardOptions`); ``gym.make``
    routes those keywords to it by these names.
    """

    option_names: ClassVar[tuple[str, ...]] = RewardOptions.names()
    _engine: RewardEngine

    @property
    def reward_model(self) -> RewardModel:
        """The reward model in use."""
        return self._engine.model

    @property
    def reward_norm(self) -> RunningRewardNorm | None:
        """The running normalisation statistics (``None`` unless ``normalize=True``)."""
        return self._engine.norm

    @property
    def engine(self) -> RewardEngine:
        """The shared reward computation (options, history, scorer)."""
        return self._engine
