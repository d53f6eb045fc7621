"""Checking a bench config up front: every option's type and range before any unit runs.

:func:`validate_config` is the first thing :func:`~rr_gym.bench.run_bench` (and the Hydra
app) does. It checks the run options (``seeds``, ``jobs``, ``torch_threads``, ``device``,
``progress``, ``stages``, ``method``) and every size in ``sizes`` (the suite's sections,
their kind ``overrides`` and each pair config's own ``sizes``), and raises one
:class:`~rr_gym.errors.ConfigError` that lists every problem, each with the option's full
name, the value given and what is expected. Nothing is built or written before it passes.

Example:
    >>> validate_config({"seeds": [0], "jobs": 2, "method": {"bc": {}}}).jobs
    2
    >>> try:
    ...     validate_config({"seeds": [0], "jobs": 0, "method": {"bc": {}}})
    ... except ConfigError as err:
    ...     print(str(err)[:76])
    invalid bench option: jobs=0; expected a positive integer (worker processes)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rr_gym.bench.methods import METHODS
from rr_gym.bench.retrain import vec_normalize_problem
from rr_gym.errors import ConfigError

__all__ = ["STAGES", "VALID_DEVICES", "BenchOptions", "validate_config"]

#: Stage names in execution order.
STAGES: tuple[str, ...] = (
    "datasets",
    "diffusion",
    "rewards",
    "evaluate",
    "retrain",
    "steering",
    "images",
    "report",
)

#: What ``device`` accepts (``auto``: CUDA when available, else the CPU).
VALID_DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")

#: Kinds of pair whose ``sizes`` section holds kind options and an ``overrides`` tree.
_KIND_SECTIONS = ("maze", "locomotion", "images")


@dataclass(frozen=True)
class BenchOptions:
    """The run options of a checked config, normalised.

    Attributes:
        seeds: training seeds (non-negative, distinct).
        stages: the selected stages, in execution order.
        methods: method name -> config (``kind`` plus options).
        jobs: worker processes (at least 1; null in the config means 1).
        torch_threads: torch threads per process (None: torch's default in the main
            process, 1 in workers).
        device: the torch device to use (``auto`` resolved to ``cuda`` or ``cpu``).
        progress: progress bars.
        executor: ``local`` (worker processes) or ``ray`` (Ray tasks; the distributed extra).
        ray_address: the Ray cluster for ``executor=ray`` (None: ``RAY_ADDRESS`` or local).
    """

    seeds: list[int]
    stages: list[str]
    methods: dict[str, dict[str, Any]]
    jobs: int
    torch_threads: int | None
    device: str
    progress: bool
    executor: str = "local"
    ray_address: str | None = None


def _show(value: Any) -> str:
    """``value`` as a user would type it after ``option=``."""
    if isinstance(value, str):
        return value if value else "''"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ",".join(_show(v) for v in value) + "]"
    return repr(value)


def _is_int(value: Any) -> bool:
    """An int, or a float with an integral value (``1e5``), but not a bool."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _int_at_least(low: int, what: str) -> Callable[[Any], str | None]:
    expected = "a positive integer" if low == 1 else f"an integer >= {low}"

    def check(value: Any) -> str | None:
        if _is_int(value) and value >= low:
            return None
        return f"expected {expected} ({what})"

    return check


def _optional(check: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    def wrapped(value: Any) -> str | None:
        problem = None if value is None else check(value)
        return None if problem is None else f"{problem} or null"

    return wrapped


def _positive_float(what: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if _is_number(value) and value > 0:
            return None
        return f"expected a positive finite number ({what})"

    return check


def _mapping(what: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if isinstance(value, Mapping) else f"expected a mapping ({what})"

    return check


def _number(what: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if _is_number(value) else f"expected a finite number ({what})"

    return check


def _discount(value: Any) -> str | None:
    if _is_number(value) and 0 < value <= 1:
        return None
    return "expected a number in (0, 1] (the shaping discount)"


def _scales(value: Any) -> str | None:
    if isinstance(value, list) and value and all(_is_number(v) for v in value):
        return None
    return "expected a non-empty list of finite numbers (guidance scales), e.g. [1.0, 4.0]"


def _all_or_names(expected: str) -> Callable[[Any], str | None]:
    """A check of ``all`` or a non-empty list of non-empty strings (``expected`` names them)."""

    def check(value: Any) -> str | None:
        if value == "all" or (
            isinstance(value, list) and value and all(isinstance(v, str) and v for v in value)
        ):
            return None
        return f"expected all or a non-empty list of {expected}"

    return check


_pair_patterns = _all_or_names("pair-name patterns, e.g. [umaze-goal0, 'hopper-*']")
_method_names = _all_or_names("method names, e.g. [relative_reward, discriminator]")


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "expected true or false"


_STEPS = _int_at_least(1, "a step count")
_BATCH = _int_at_least(1, "a batch size")
_ENVS = _int_at_least(1, "a number of environments")


def _harmful(value: Any) -> str | None:
    ok = value == "all" or (
        isinstance(value, list | tuple)
        and all(isinstance(k, int) and not isinstance(k, bool) and 0 <= k <= 9 for k in value)
    )
    return None if ok else "expected a list of digit classes 0..9 or all"


def _widths(value: Any) -> str | None:
    ok = (
        isinstance(value, list | tuple)
        and value
        and all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 4 and c % 4 == 0 for c in value
        )
    )
    return None if ok else "expected a list of block widths, multiples of 4"


def _one_of(*options: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in options else f"expected one of {list(options)}"

    return check


#: section -> key -> check of a size (None when fine, else what is expected).
_SIZE_CHECKS: dict[str, dict[str, Callable[[Any], str | None]]] = {
    "": {
        "data_seed": _int_at_least(0, "the datasets' seed"),
        "holdout_every": _int_at_least(2, "every n-th episode is held out"),
        "methods": _method_names,
    },
    "maze": {"data_steps": _STEPS},
    "images": {"harmful": _harmful},
    "locomotion": {
        "train_steps": _STEPS,
        "steps_per_level": _STEPS,
        "eval_every": _optional(_STEPS),
    },
    "diffusion": {
        "horizon": _int_at_least(1, "the window length in transitions"),
        "stride": _int_at_least(1, "the window stride"),
        "n_diffusion_steps": _STEPS,
        "steps": _STEPS,
        "batch_size": _BATCH,
        "lr": _positive_float("a learning rate"),
        "action_weight": _optional(_positive_float("a loss weight (null: the library's)")),
    },
    "reward": {
        "steps": _STEPS,
        "batch_size": _BATCH,
        "hidden_dim": _int_at_least(1, "a network width"),
        "lr": _positive_float("a learning rate"),
    },
    "adversarial": {
        "total_timesteps": _STEPS,
        "n_envs": _ENVS,
        "demo_batch_size": _BATCH,
    },
    "bc": {"steps": _STEPS, "batch_size": _BATCH, "lr": _positive_float("a learning rate")},
    "evaluate": {
        "n_transitions": _int_at_least(1, "held-out transitions per dataset"),
        "n_coverage": _int_at_least(1, "coverage samples"),
        "discount": _discount,
        "lr_t_max": _int_at_least(0, "the largest noise level, in diffusion steps"),
        "grid_resolution": _int_at_least(1, "heatmap points per cell side"),
        "scatter_points": _int_at_least(1, "points per scatter plot"),
    },
    "retrain": {
        "timesteps": _STEPS,
        "n_envs": _ENVS,
        "eval_episodes": _int_at_least(1, "evaluation episodes"),
        "eval_envs": _ENVS,
        "pairs": _pair_patterns,
        "learning_bar": _optional(_number("the true-reward agent's normalised return bar")),
        "agent_kwargs": _optional(_mapping("keyword arguments of the SB3 agent")),
        "vec_normalize": _optional(vec_normalize_problem),
    },
    "digits": {
        "diffusion_steps": _STEPS,
        "reward_steps": _STEPS,
        "n_diffusion_steps": _STEPS,
        "samples": _int_at_least(1, "images per generator"),
        "scale": _positive_float("a guidance scale"),
        "batch_size": _BATCH,
        "target": _one_of("score", "posterior_mean"),
        "unet_channels": _widths,
        "reward_channels": _widths,
    },
    "steering": {
        "episodes": _int_at_least(0, "episodes per condition; 0 skips steering"),
        "n_envs": _ENVS,
        "t_stopgrad": _int_at_least(0, "a diffusion step"),
        "replan_every": _int_at_least(1, "a step count"),
        "scales": _scales,
        "clip_denoised": _optional(_positive_float("a clip in std units")),
        "scale_by_variance": _boolean,
        "pairs": _pair_patterns,
    },
}


def _check_sections(tree: Any, prefix: str, problems: list[str]) -> None:
    """Check the size sections (``diffusion``, ``reward``...) of ``tree``, named ``prefix``."""
    if tree is None:
        return
    if not isinstance(tree, Mapping):
        problems.append(f"{prefix}={_show(tree)}; expected a mapping of size sections")
        return
    for key, check in _SIZE_CHECKS[""].items():
        if key in tree and (problem := check(tree[key])):
            problems.append(f"{prefix}.{key}={_show(tree[key])}; {problem}")
    for section, checks in _SIZE_CHECKS.items():
        if not section or section not in tree or tree[section] is None:
            continue
        values = tree[section]
        if not isinstance(values, Mapping):
            problems.append(f"{prefix}.{section}={_show(values)}; expected a mapping of sizes")
            continue
        for key, check in checks.items():
            if key in values and (problem := check(values[key])):
                problems.append(f"{prefix}.{section}.{key}={_show(values[key])}; {problem}")
        if section in _KIND_SECTIONS:
            _check_sections(values.get("overrides"), f"{prefix}.{section}.overrides", problems)
    by_name = tree.get("pair_overrides")
    if by_name is not None and not isinstance(by_name, Mapping):
        problems.append(
            f"{prefix}.pair_overrides={_show(by_name)}; expected a mapping of pair-name "
            "patterns to size sections, e.g. {'medium-*': {diffusion: {steps: 500}}}"
        )
    elif by_name:
        for pattern, sections in by_name.items():
            _check_sections(sections, f"{prefix}.pair_overrides.{pattern}", problems)


def _check_pairs(pairs: Any, problems: list[str]) -> None:
    """Kind options given in a pair config itself, and the pair's own ``sizes``."""
    if not isinstance(pairs, Mapping):
        return  # expand_pairs reports it
    for name, config in pairs.items():
        if not isinstance(config, Mapping):
            continue
        for key, check in _SIZE_CHECKS.get(str(config.get("kind")), {}).items():
            if key in config and (problem := check(config[key])):
                problems.append(f"pair.{name}.{key}={_show(config[key])}; {problem}")
        _check_sections(config.get("sizes"), f"pair.{name}.sizes", problems)


def _seeds(value: Any, problems: list[str]) -> list[int]:
    expected = "expected a list of distinct integers >= 0, e.g. seeds=[0,1]"
    if _is_int(value):  # a multirun's `seeds=0,1` gives each job one number
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        problems.append(f"seeds={_show(value)}; {expected}")
        return []
    bad = [s for s in value if not (_is_int(s) and s >= 0)]
    if bad:
        problems.append(f"seeds={_show(value)} has {_show(bad)}; {expected}")
        return []
    seeds = [int(s) for s in value]
    if len(set(seeds)) != len(seeds):
        problems.append(f"seeds={_show(value)} repeats a seed; {expected}")
    return seeds


def _stages(value: Any, problems: list[str]) -> list[str]:
    expected = f"expected a list of stages out of {_show(list(STAGES))}"
    if value is None or (isinstance(value, list | tuple) and not value):
        return list(STAGES)  # none given: every stage
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        problems.append(f"stages={_show(value)}; {expected}")
        return []
    unknown = [s for s in value if s not in STAGES]
    if unknown:
        problems.append(f"stages={_show(value)} has unknown {_show(unknown)}; {expected}")
    return [s for s in STAGES if s in value]


def _methods(value: Any, problems: list[str]) -> dict[str, dict[str, Any]]:
    if not isinstance(value, Mapping) or not value:
        problems.append(
            f"method={_show(value)}; no method selected, expected e.g. "
            f"method=[relative_reward,discriminator] (kinds: {', '.join(sorted(METHODS))})"
        )
        return {}
    methods = {}
    for name, cfg in value.items():
        cfg = cfg or {}
        kind = cfg.get("kind", name) if isinstance(cfg, Mapping) else None
        if kind not in METHODS:
            problems.append(
                f"method {name!r} has kind={_show(kind)}; expected one of "
                f"{', '.join(sorted(METHODS))}"
            )
            continue
        methods[str(name)] = {"kind": kind, **{k: v for k, v in cfg.items() if k != "kind"}}
        for section in METHODS[kind].size_sections:  # a method's options override sizes
            for key, check in _SIZE_CHECKS.get(section, {}).items():
                given = cfg.get(key)
                if given is not None and (problem := check(given)):
                    problems.append(f"method.{name}.{key}={_show(given)}; {problem}")
    return methods


def _device(value: Any, problems: list[str]) -> str:
    """The device string, ``auto`` resolved; a problem when it is not one or not available."""
    import torch

    from rr_gym.utils.device import resolve_device

    expected = f"expected one of {', '.join(VALID_DEVICES)}"
    name = str(value).strip().lower() if isinstance(value, str) else None
    if name is None:
        problems.append(f"device={_show(value)}; {expected}")
        return "cpu"
    kind, _, index = name.partition(":")
    known = name in ("auto", "cpu", "cuda", "mps") or (kind == "cuda" and index.isdigit())
    if not known:
        problems.append(f"device={_show(value)} is not a device; {expected}")
        return "cpu"
    if name == "mps":
        if not torch.backends.mps.is_available():
            problems.append(
                "device=mps asks for Apple's Metal backend but torch.backends.mps.is_available()"
                " is False; use device=auto or device=cpu"
            )
        return name
    try:
        resolved = resolve_device(name)
    except ConfigError:
        problems.append(
            f"device={name} asks for CUDA but torch.cuda.is_available() is False; use "
            "device=auto or device=cpu"
        )
        return "cpu"
    if resolved.type == "cuda" and resolved.index is not None:
        count = torch.cuda.device_count()
        if resolved.index >= count:
            problems.append(
                f"device={name} but this machine has {count} CUDA device(s); expected cuda:0"
                f"..cuda:{count - 1}, cuda, auto or cpu"
            )
    return str(resolved)


def validate_config(config: Mapping[str, Any]) -> BenchOptions:
    """Check a resolved bench config before anything runs; return its run options.

    Args:
        config: the resolved Hydra config as plain data (see
            :func:`~rr_gym.bench.run_bench`).

    Returns:
        :class:`BenchOptions`.

    Raises:
        ConfigError: one or more options are invalid; the message names each option (its
            full dotted name), the value given and what is expected.
    """
    problems: list[str] = []
    seeds = _seeds(config.get("seeds"), problems)
    stages = _stages(config.get("stages"), problems)
    methods = _methods(config.get("method"), problems)
    jobs = config.get("jobs")
    jobs = 1 if jobs is None else jobs
    if not (_is_int(jobs) and jobs >= 1):
        problems.append(
            f"jobs={_show(jobs)}; expected a positive integer (worker processes), e.g. jobs=1"
        )
    threads = config.get("torch_threads")
    if threads is not None and not (_is_int(threads) and threads >= 1):
        problems.append(
            f"torch_threads={_show(threads)}; expected a positive integer (torch threads per "
            "process) or null"
        )
    progress = config.get("progress", True)
    if not isinstance(progress, bool):
        problems.append(f"progress={_show(progress)}; expected true or false")
    _check_sections(config.get("sizes"), "sizes", problems)
    _check_pairs(config.get("pair"), problems)
    device = _device(config.get("device", "cpu"), problems)
    executor = config.get("executor", "local")
    if executor not in ("local", "ray"):
        problems.append(
            f"executor={_show(executor)}; expected local (worker processes) or ray (Ray "
            "tasks, the distributed extra)"
        )
    address = config.get("ray_address")
    if address is not None and not isinstance(address, str):
        problems.append(f"ray_address={_show(address)}; expected a Ray address or null")
    if problems:
        head = "invalid bench option" if len(problems) == 1 else "invalid bench options"
        raise ConfigError(
            f"{head}: {'; '.join(problems)}. Fix {'it' if len(problems) == 1 else 'them'} on "
            "the command line or in the config and rerun."
        )
    return BenchOptions(
        seeds=seeds,
        stages=stages,
        methods=methods,
        jobs=int(jobs),
        torch_threads=None if threads is None else int(threads),
        device=device,
        progress=bool(progress),
        executor=str(executor),
        ray_address=address,
    )
