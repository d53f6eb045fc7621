"""Environment ids in the ``rr_gym/`` namespace whose ``gym.make`` accepts ``wrappers=[...]``.

``rr_gym/<Name>-vN`` makes the registered env ``<Name>-vN`` (same keyword arguments, same
episode limit, checker and order enforcement) and applies ``wrappers`` to it, innermost
first. Each item of ``wrappers`` may be:

- a wrapper class, e.g. ``RelativeReward``;
- a class with keyword arguments bound, e.g. ``functools.partial(RelativeReward,
  reward_model="ckpt")``, or Gymnasium's ``RelativeReward.wrapper_spec(reward_model="ckpt")``
  (a :class:`~gymnasium.envs.registration.WrapperSpec`);
- any callable ``env -> env``;
- an import string ``"module:attr"`` naming one of the above.

Keyword arguments of ``gym.make`` that a wrapper class in the list accepts by name go to
that wrapper; the others go to the underlying env::

    gym.make("rr_gym/PointMaze_UMaze-v3", wrappers=[RelativeReward], reward_model="ckpt")
    gym.make("rr_gym/PointMaze_UMaze-v3",
             wrappers=[functools.partial(RelativeReward, reward_model="ckpt")])
    gym.make_vec("rr_gym/PointMaze_UMaze-v3", num_envs=8, wrappers=[RelativeReward],
                 reward_model="ckpt")

With ``gym.make_vec`` the ``wrappers`` list is applied by Gymnasium after ``make``; the
options of rr_gym's wrappers (``reward_model``, ``mode``...) are then held back from the
underlying env, and a :class:`~rr_gym.wrappers.RelativeReward` built without
``reward_model`` takes them from the make call (:func:`held_wrapper_kwargs`).

Specs round-trip: ``gym.make(env.spec)`` rebuilds the same wrapped env. The spec is also
JSON-serialisable (``env.spec.to_json()``) when every item of ``wrappers`` is an import
string or a ``WrapperSpec`` and the reward model is given as a checkpoint path.

The defaults registered on import are the PointMaze v3 mazes and the MuJoCo v5
locomotion tasks; :func:`register_wrapped` registers any other id.
"""

from __future__ import annotations

import copy
import difflib
import functools
import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import gymnasium as gym
import gymnasium_robotics
from gymnasium.envs.registration import (
    EnvSpec,
    WrapperSpec,
    get_env_id,
    load_env_creator,
    parse_env_id,
)

from rr_gym.errors import ConfigError
from rr_gym.reward_options import RewardOptions

__all__ = [
    "DEFAULT_BASE_IDS",
    "ENTRY_POINT",
    "NAMESPACE",
    "held_wrapper_kwargs",
    "make_wrapped_env",
    "register_defaults",
    "register_wrapped",
    "wrapped_id",
]

logger = logging.getLogger(__name__)

gym.register_envs(gymnasium_robotics)

NAMESPACE = "rr_gym"
ENTRY_POINT = "rr_gym.envs.registration:make_wrapped_env"
_MAZES = ("UMaze", "Open", "Medium", "Large")
_DIVERSE = ("", "_Diverse_G", "_Diverse_GR")
_POINTMAZE = tuple(
    f"PointMaze_{maze}{div}{dense}-v3"
    for dense in ("", "Dense")
    for maze in _MAZES
    for div in (_DIVERSE if maze != "UMaze" else ("",))
)
_LOCOMOTION = tuple(
    f"{name}-v5"
    for name in (
        "Hopper",
        "HalfCheetah",
        "Walker2d",
        "Ant",
        "Swimmer",
        "Humanoid",
        "InvertedPendulum",
        "Reacher",
    )
)
DEFAULT_BASE_IDS: tuple[str, ...] = _POINTMAZE + _LOCOMOTION
"""Ids registered as ``rr_gym/<id>`` when :mod:`rr_gym.envs` is imported."""

WrapperLike = Any
"""A wrapper class, a partial of one, a WrapperSpec (or its dict), a callable or a string."""


def wrapped_id(base_id: str) -> str:
    """The ``rr_gym/`` id of ``base_id`` (a namespace ``ns/`` becomes a prefix ``ns.``).

    Example:
        >>> wrapped_id("Hopper-v5"), wrapped_id("ns/Task-v1")
        ('rr_gym/Hopper-v5', 'rr_gym/ns.Task-v1')
    """
    ns, name, version = parse_env_id(base_id)
    return get_env_id(NAMESPACE, f"{ns}.{name}" if ns else name, version)


def register_wrapped(base_id: str, *, env_id: str | None = None) -> str:
    """Register ``rr_gym/<base_id>`` (or ``env_id``) as ``base_id`` plus ``wrappers=[...]``.

    Idempotent for the same ``base_id``.

    Args:
        base_id: a registered Gymnasium id.
        env_id: the new id; default :func:`wrapped_id`.

    Returns:
        the new id.

    Raises:
        ConfigError: ``base_id`` is not registered, or ``env_id`` is taken by another env.
    """
    if base_id not in gym.registry:
        raise ConfigError(
            f"cannot wrap env id {base_id!r}: it is not registered; import the package that "
            "registers it first (e.g. gym.register_envs(gymnasium_robotics))"
        )
    base = gym.registry[base_id]
    new_id = env_id or wrapped_id(base_id)
    existing = gym.registry.get(new_id)
    if existing is not None:
        if existing.entry_point == ENTRY_POINT and existing.kwargs.get("base_id") == base_id:
            return new_id
        raise ConfigError(f"env id {new_id!r} is already registered for another env")
    gym.register(
        new_id,
        entry_point=ENTRY_POINT,
        reward_threshold=base.reward_threshold,
        nondeterministic=base.nondeterministic,
        max_episode_steps=base.max_episode_steps,
        order_enforce=base.order_enforce,
        disable_env_checker=base.disable_env_checker,
        kwargs={"base_id": base_id},
    )
    return new_id


def register_defaults() -> list[str]:
    """Register :data:`DEFAULT_BASE_IDS` that exist; returns the new ids."""
    return [register_wrapped(i) for i in DEFAULT_BASE_IDS if i in gym.registry]


class _Item:
    """One resolved entry of ``wrappers``: a callable, its bound and accepted kwargs."""

    def __init__(self, item: WrapperLike) -> None:
        self.source = item
        bound: dict[str, Any] = {}
        if isinstance(item, str):
            item = _load(item)
        elif isinstance(item, WrapperSpec):
            bound = dict(item.kwargs or {})
            item = _load(item.entry_point)
        elif isinstance(item, Mapping):
            if "entry_point" not in item:
                raise ConfigError(
                    f"wrappers item {item!r} is a dict without 'entry_point'; expected a "
                    "WrapperSpec-like dict {'entry_point': 'module:Class', 'kwargs': {...}}"
                )
            bound = dict(item.get("kwargs") or {})
            item = _load(item["entry_point"])
        func = item
        while isinstance(func, functools.partial):
            bound = {**func.keywords, **bound}
            func = func.func
        if not callable(item):
            raise ConfigError(
                f"wrappers item {self.source!r} is not callable; expected a wrapper class, "
                "a partial of one, a callable env -> env, a WrapperSpec or 'module:attr'"
            )
        self.call: Callable[..., gym.Env[Any, Any]] = item
        self.bound = bound
        self.accepts = _keyword_names(func) - set(bound) - {"env"}

    def apply(self, env: gym.Env[Any, Any], kwargs: dict[str, Any]) -> gym.Env[Any, Any]:
        wrapped = self.call(env, **self.bound, **kwargs)
        if not isinstance(wrapped, gym.Env):
            raise ConfigError(
                f"wrappers item {self.source!r} returned {type(wrapped).__name__}, not a "
                "gymnasium.Env"
            )
        return wrapped


def _load(entry_point: str) -> Any:
    if ":" not in entry_point:
        raise ConfigError(f"wrapper entry point {entry_point!r}; expected 'module:attr'")
    try:
        return load_env_creator(entry_point)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import wrapper {entry_point!r}: {exc}") from exc


def _keyword_names(func: Any) -> set[str]:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return set()
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    # rr_gym's reward wrappers take their options through **options, named here
    return {p.name for p in params if p.kind in kinds} | set(getattr(func, "option_names", ()))


#: The keywords of rr_gym's reward wrappers: held back from the env for ``make_vec``.
_WRAPPER_KEYWORDS = frozenset({"reward_model", *RewardOptions.names()})


def _creator(base_id: str) -> Callable[..., gym.Env[Any, Any]]:
    """The constructor (class or function) of the registered env ``base_id``."""
    spec = gym.spec(base_id)
    if spec.entry_point is None:
        raise ConfigError(f"env id {base_id!r} has no entry point")
    if callable(spec.entry_point):
        return spec.entry_point
    return load_env_creator(spec.entry_point)


class _EnvKeywords(NamedTuple):
    """What an env constructor's signature says about its keyword arguments.

    Attributes:
        names: keywords it names: its own, and for a class whose ``__init__`` takes
            ``**kwargs``, those of the base classes' ``__init__`` it may pass them to.
        open: whether it takes ``**kwargs`` (or its signature cannot be read), so that
            keywords it does not name may still be valid.
    """

    names: frozenset[str]
    open: bool


def _env_keywords(creator: Any) -> _EnvKeywords:
    try:
        params = inspect.signature(creator).parameters.values()
    except (TypeError, ValueError):
        return _EnvKeywords(frozenset(), True)
    names = _keyword_names(creator)
    is_open = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    if is_open and inspect.isclass(creator):
        for base in creator.__mro__[1:]:
            if "__init__" in vars(base):
                names |= _keyword_names(vars(base)["__init__"]) - {"self"}
    return _EnvKeywords(frozenset(names), is_open)


#: Keywords left to Gymnasium's own handling (``gym.make`` adapts ``render_mode``).
_ALWAYS_PASSED = frozenset({"render_mode"})

#: With a ``**kwargs`` env constructor, a keyword it does not name is refused only when it
#: is at least this close (difflib ratio) to an rr_gym keyword, i.e. most likely a typo.
_TYPO_CUTOFF = 0.8


def _check_env_kwargs(
    base_id: str, env_kwargs: Mapping[str, Any], rr_gym_keywords: set[str]
) -> None:
    """Refuse keywords bound for the env that neither it nor rr_gym accepts.

    Raises:
        ConfigError: a keyword that the env's constructor does not name and that is either
            close to an rr_gym keyword (a typo such as ``reward_modle``) or refused by a
            constructor without ``**kwargs``; names the closest valid keyword and lists
            rr_gym's.
    """
    if not env_kwargs:
        return
    creator = _creator(base_id)
    accepted = _env_keywords(creator)
    ours = sorted(rr_gym_keywords)
    for name in env_kwargs:
        if name in accepted.names or name in _ALWAYS_PASSED:
            continue
        typo_of = difflib.get_close_matches(name, ours, n=1, cutoff=_TYPO_CUTOFF)
        if accepted.open and not typo_of:
            continue  # may be a keyword of the env that its signature does not show
        closest = typo_of or difflib.get_close_matches(name, [*ours, *sorted(accepted.names)], n=1)
        hint = f"did you mean {closest[0]!r}? " if closest else ""
        where = getattr(creator, "__qualname__", repr(creator))
        env_part = (
            f"{where} does not name it (it takes **kwargs, but {name!r} looks like a "
            "misspelt rr_gym keyword)"
            if accepted.open
            else f"{where} does not accept it (its keywords: {sorted(accepted.names)})"
        )
        raise ConfigError(
            f"unknown keyword {name!r} for the rr_gym env of {base_id!r}: it is not an "
            f"rr_gym keyword and {env_part}; {hint}valid rr_gym keywords: {ours}"
        )


def _make_base(base_id: str, env_kwargs: dict[str, Any]) -> gym.Env[Any, Any]:
    """The env of ``base_id`` without Gymnasium's make-time wrappers (the outer make adds
    the checker, order enforcement and time limit around the whole chain)."""
    spec = gym.spec(base_id)
    creator = _creator(base_id)
    env = creator(**{**copy.deepcopy(spec.kwargs), **env_kwargs})
    for wrapper_spec in spec.additional_wrappers:
        env = load_env_creator(wrapper_spec.entry_point)(env=env, **(wrapper_spec.kwargs or {}))
    return env


def make_wrapped_env(
    base_id: str, wrappers: Sequence[WrapperLike] = (), **kwargs: Any
) -> gym.Env[Any, Any]:
    """Entry point of ``rr_gym/...`` ids: make ``base_id`` and apply ``wrappers``.

    Args:
        base_id: the underlying Gymnasium id.
        wrappers: see the module docstring; applied in order (the first is innermost).
        **kwargs: keyword arguments for the wrapper classes that accept them by name, else
            for the underlying env; options of rr_gym's wrappers that no item takes are
            held back (see :func:`held_wrapper_kwargs`).

    Returns:
        the wrapped env.

    Raises:
        ConfigError: a keyword that neither a wrapper, rr_gym nor the env accepts: one the
            env's constructor does not name and that is close to an rr_gym keyword (e.g.
            ``reward_modle``), or, for a constructor without ``**kwargs``, any it does not
            name. The message names the closest valid keyword and lists rr_gym's.
    """
    if isinstance(wrappers, (str, WrapperSpec, Mapping)) or callable(wrappers):
        wrappers = [wrappers]
    items = [_Item(w) for w in wrappers]
    per_item: list[dict[str, Any]] = [{} for _ in items]
    env_kwargs: dict[str, Any] = {}
    held: list[str] = []
    for name, value in kwargs.items():
        takers = [i for i, item in enumerate(items) if name in item.accepts]
        for i in takers:
            per_item[i][name] = value
        if takers:
            continue
        if name in _WRAPPER_KEYWORDS:
            held.append(name)
        else:
            env_kwargs[name] = value
    if held:
        logger.debug(
            "%s: %s held back for rr_gym wrappers applied after make (make_vec)", base_id, held
        )
    rr_gym_keywords = {"wrappers", *_WRAPPER_KEYWORDS}
    rr_gym_keywords.update(*(item.accepts for item in items))
    _check_env_kwargs(base_id, env_kwargs, rr_gym_keywords)
    env = _make_base(base_id, env_kwargs)
    for item, item_kwargs in zip(items, per_item, strict=True):
        env = item.apply(env, item_kwargs)
    return env


def held_wrapper_kwargs(env: gym.Env[Any, Any]) -> dict[str, Any]:
    """rr_gym wrapper options given to the ``make`` call of an ``rr_gym/...`` env.

    Empty for any other env. A wrapper built without a reward model (by
    ``gym.make_vec(..., wrappers=[RelativeReward])``) reads its options here.
    """
    spec: EnvSpec | None = getattr(env.unwrapped, "spec", None)
    if spec is None or spec.entry_point not in (ENTRY_POINT, make_wrapped_env):
        return {}
    options = _WRAPPER_KEYWORDS
    return {k: v for k, v in spec.kwargs.items() if k in options}


register_defaults()
