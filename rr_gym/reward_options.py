"""How the reward wrappers turn a reward model's output into the env's reward.

One options type for :class:`~rr_gym.wrappers.RelativeReward`, its vector and SB3 twins and
the :class:`~rr_gym.wrappers.engine.RewardEngine` under them. ``rr_gym.envs`` reads its field
names to hold them back from an env's own keyword arguments in ``gym.make("rr_gym/...")``,
so this module imports neither package.

Example:
    >>> options = RewardOptions.from_kwargs({"scale": 2.0, "normalize": True})
    >>> options.scale, options.mode
    (2.0, 'replace')
    >>> RewardOptions.from_kwargs({"scael": 2.0})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rr_gym.errors.ConfigError: unknown reward option 'scael' (did you mean 'scale'?); ...
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from rr_gym.errors import ConfigError

__all__ = ["Backend", "NanPolicy", "RewardMode", "RewardOptions"]

RewardMode = Literal["replace", "add"]
NanPolicy = Literal["raise", "zero"]
#: How a reward model is evaluated per step (see :class:`~rr_gym.wrappers.scoring.RewardScorer`).
Backend = Literal["auto", "native", "numpy", "torch", "predict"]


@dataclass(frozen=True)
class RewardOptions:
    """The wrappers' options (validated on construction).

    Attributes:
        mode: ``"replace"`` the env's reward, or ``"add"`` the learned reward to it.
        scale: factor on the learned reward.
        normalize: divide the learned reward by its running standard deviation before
            scaling (see :class:`~rr_gym.wrappers.RunningRewardNorm`).
        norm_center: with ``normalize``, also subtract the running mean.
        norm_clip: with ``normalize``, clip to ``[-norm_clip, norm_clip]`` (``None``: off).
        nan_policy: for a transition (or, with ``mode="add"``, an env reward) holding NaN or
            inf, or a non-finite model output: ``"raise"`` a
            :class:`~rr_gym.errors.DataError` naming the environment and field, or
            ``"zero"``: the learned reward of that step is 0 (the env's reward is kept in
            ``"add"`` mode when finite) and a warning is logged once.
        backend: how the model is evaluated (see
            :class:`~rr_gym.wrappers.scoring.RewardScorer`).
        device: where a checkpoint path is loaded.

    Raises:
        ConfigError: an option outside its range (the message names it and what is allowed).
    """

    mode: RewardMode = "replace"
    scale: float = 1.0
    normalize: bool = False
    norm_center: bool = False
    norm_clip: float | None = 10.0
    nan_policy: NanPolicy = "raise"
    backend: Backend = "auto"
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name, kind in (("mode", RewardMode), ("nan_policy", NanPolicy), ("backend", Backend)):
            if getattr(self, name) not in get_args(kind):
                raise ConfigError(
                    f"{name}={getattr(self, name)!r}; expected one of {list(get_args(kind))}"
                )
        if (
            isinstance(self.scale, bool)
            or not isinstance(self.scale, (int, float))
            or not math.isfinite(self.scale)
        ):
            raise ConfigError(f"scale={self.scale!r}; expected a finite number")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The option names, in order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> RewardOptions:
        """Options from keyword arguments (the rest keep their defaults).

        Raises:
            ConfigError: an unknown name (with the closest known one), or a bad value.
        """
        names = cls.names()
        for name in kwargs:
            if name not in names:
                close = difflib.get_close_matches(name, names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(
                    f"unknown reward option {name!r}{hint}; expected some of {list(names)}"
                )
        return cls(**kwargs)

    def as_kwargs(self) -> dict[str, Any]:
        """The options as keyword arguments (what a wrapper records in its spec)."""
        return dataclasses.asdict(self)
