"""``python -m rr_gym.bench``: the benchmark suite as a Hydra app.

Hydra stays here: the config is resolved to plain data and handed to
:func:`rr_gym.bench.run_bench`. Examples::

    python -m rr_gym.bench                        # the default suite
    python -m rr_gym.bench suite=smoke            # everything at tiny sizes
    python -m rr_gym.bench suite=smoke method=[relative_reward,gail] seeds=[0,1]
    python -m rr_gym.bench -m suite=smoke 'seeds=[0],[1]' hydra/launcher=joblib
    python -m rr_gym.bench -m suite=paper 'seeds=[0],[1]' hydra/launcher=ray \\
        +hydra.launcher.ray.init.address=auto
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from rr_gym.errors import RRGymError

__all__ = ["check_group_choices", "main", "resume_command"]

logger = logging.getLogger("rr_gym.bench")

_CONF = Path(__file__).parent / "conf"
#: Exit status of a run stopped by Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
#: Exit status of a run refused for a bad option or a corrupt cache.
EXIT_ERROR = 2


def _group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (_CONF / group).glob("*.yaml"))


def check_group_choices(argv: Sequence[str]) -> str | None:
    """Check the config-group choices among command-line overrides, before Hydra runs.

    Hydra lists a group's options for ``suite=nosuch`` but not for a list such as
    ``method=[relative_reward,nosuch]``; this covers both, and choice sweeps (``-m``).

    Args:
        argv: the command-line arguments (``sys.argv[1:]``).

    Returns:
        None when every choice exists (or the overrides are left to Hydra to parse), else
        a one-paragraph message naming the override, the unknown option and the group's
        options.

    Example:
        >>> for part in check_group_choices(["suite=nosuch"]).split("; "):
        ...     print(part)
        suite=nosuch: the config group 'suite' has no option 'nosuch'
        available options in 'suite': default, paper, smoke
        >>> check_group_choices(["suite=smoke", "method=[gail,bc]", "seeds=[0]"]) is None
        True
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType, ValueType
    from hydra.errors import OverrideParseException

    if any(a.split("=")[0] in ("-cd", "--config-dir", "-cp", "--config-path") for a in argv):
        return None  # another search path may add options
    groups = {p.name for p in _CONF.iterdir() if p.is_dir() and not p.name.startswith("_")}
    lines = [a for a in argv if "=" in a and not a.startswith("-")]
    try:
        overrides = OverridesParser.create().parse_overrides(lines)
    except OverrideParseException:
        return None  # Hydra reports the syntax error
    for override in overrides:
        group = override.key_or_group
        if group not in groups or override.type == OverrideType.DEL:
            continue
        if override.value_type == ValueType.ELEMENT:
            choices = [override.value()]
        elif override.value_type in (ValueType.CHOICE_SWEEP, ValueType.SIMPLE_CHOICE_SWEEP):
            choices = list(override.sweep_iterator())
        else:
            continue  # globs and ranges: Hydra's own errors
        names = [n for c in choices for n in (c if isinstance(c, list) else [c])]
        options = _group_options(group)
        unknown = [str(n) for n in names if n is not None and str(n) not in options]
        if unknown:
            which = ", ".join(repr(n) for n in unknown)
            return (
                f"{override.input_line}: the config group {group!r} has no option "
                f"{which}; available options in {group!r}: {', '.join(options)}"
            )
    return None


def resume_command(argv: Sequence[str] | None = None) -> str:
    """The command that reruns (and so resumes) this bench run, from ``sys.argv``."""
    args = list(sys.argv[1:] if argv is None else argv)
    return shlex.join(["python", "-m", "rr_gym.bench", *args])


def _cache_dir(config: dict[str, Any], out_dir: Path) -> Path:
    """``cache_dir``, else ``$RR_GYM_BENCH_CACHE``, else the run's (or sweep's) ``cache``."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if config.get("cache_dir"):
        return Path(str(config["cache_dir"])).expanduser()
    if os.environ.get("RR_GYM_BENCH_CACHE"):
        return Path(os.environ["RR_GYM_BENCH_CACHE"]).expanduser()
    hc = HydraConfig.get()
    if hc.mode == RunMode.MULTIRUN:
        return Path(hc.sweep.dir) / "cache"
    return out_dir / "cache"


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def _app(cfg: DictConfig) -> None:
    """Run the configured suite and print its summary table.

    An rr_gym error (a bad option, a corrupt cache unit) is printed as one paragraph,
    without a traceback (set ``HYDRA_FULL_ERROR=1`` for one), and exits with status 2.
    """
    from hydra.core.hydra_config import HydraConfig

    from rr_gym.bench.options import validate_config

    raw = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(raw, dict)
    config: dict[str, Any] = {str(k): v for k, v in raw.items()}
    try:
        options = validate_config(config)  # first: nothing is built or written before it
        import torch

        from rr_gym.bench.report import summary_table
        from rr_gym.bench.runner import run_bench

        if options.torch_threads:
            torch.set_num_threads(options.torch_threads)
        out_dir = Path(HydraConfig.get().runtime.output_dir)
        summary = run_bench(config, out_dir=out_dir, cache_dir=_cache_dir(config, out_dir))
    except RRGymError as err:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    print(summary_table(summary))


def main() -> None:
    """``python -m rr_gym.bench [overrides]``: the Hydra app, with plain error reports.

    Unknown config-group choices are refused before Hydra composes the config, listing the
    group's options. Ctrl-C prints one line with the command that resumes the run (finished
    units are cached) and exits with status 130.
    """
    problem = check_group_choices(sys.argv[1:])
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    try:
        _app()
    except KeyboardInterrupt:
        sys.stdout.flush()
        print(
            "interrupted: finished units are kept in the cache; resume the run with the "
            f"same command: {resume_command()}",
            file=sys.stderr,
        )
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
