"""Bench options are checked before any unit runs; the CLI reports errors in one paragraph.

Covers: invalid options refused up front by :func:`run_bench` and the CLI (nothing built, the
cache untouched), unknown config-group choices listed, Ctrl-C reported as one line with the
command that resumes the run (exit status 130), and the sweep of dead processes' temporaries
at the start of a run.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hydra.core.global_hydra import GlobalHydra

from rr_gym.bench import __main__ as cli
from rr_gym.bench import stages as stage_impl
from rr_gym.bench.options import validate_config
from rr_gym.bench.runner import run_bench
from rr_gym.errors import ConfigError
from rr_gym.utils import io


@pytest.fixture
def no_stage_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every stage fail loudly, so an option that is not refused up front shows."""

    def ran(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a stage ran: the option was not refused before planning")

    for name in stage_impl.PLANNERS:
        monkeypatch.setitem(stage_impl.PLANNERS, name, ran)


BAD_OPTIONS = [
    ("jobs=0", "jobs=0", "positive integer"),
    ("jobs=-3", "jobs=-3", "positive integer"),
    ("torch_threads=0", "torch_threads=0", "positive integer"),
    ("sizes.diffusion.steps=0", "sizes.diffusion.steps=0", "positive integer"),
    ("sizes.diffusion.horizon=0", "sizes.diffusion.horizon=0", "positive integer"),
    ("sizes.diffusion.lr=0", "sizes.diffusion.lr=0", "positive finite number"),
    ("sizes.diffusion.lr=-0.1", "sizes.diffusion.lr=-0.1", "positive finite number"),
    ("sizes.diffusion.batch_size=0", "sizes.diffusion.batch_size=0", "positive integer"),
    ("sizes.diffusion.n_diffusion_steps=0", "sizes.diffusion.n_diffusion_steps=0", "positive"),
    ("sizes.reward.steps=-1", "sizes.reward.steps=-1", "positive integer"),
    ("sizes.reward.batch_size=2.5", "sizes.reward.batch_size=2.5", "positive integer"),
    ("sizes.bc.steps=0", "sizes.bc.steps=0", "positive integer"),
    ("sizes.bc.batch_size=0", "sizes.bc.batch_size=0", "positive integer"),
    ("sizes.adversarial.total_timesteps=0", "sizes.adversarial.total_timesteps=0", "positive"),
    ("sizes.adversarial.demo_batch_size=0", "sizes.adversarial.demo_batch_size=0", "positive"),
    ("sizes.retrain.timesteps=0", "sizes.retrain.timesteps=0", "positive integer"),
    (
        "+sizes.retrain.vec_normalize={norm_obsx:true}",
        "sizes.retrain.vec_normalize={'norm_obsx': True}",
        "VecNormalize options among ['norm_obs'",
    ),
    ("sizes.maze.data_steps=0", "sizes.maze.data_steps=0", "positive integer"),
    ("sizes.locomotion.train_steps=abc", "sizes.locomotion.train_steps=abc", "positive"),
    ("sizes.locomotion.steps_per_level=0", "sizes.locomotion.steps_per_level=0", "positive"),
    (
        "sizes.locomotion.overrides.retrain.timesteps=0",
        "sizes.locomotion.overrides.retrain.timesteps=0",
        "positive integer",
    ),
    ("+pair.umaze.sizes.diffusion.steps=0", "pair.umaze.sizes.diffusion.steps=0", "positive"),
    ("sizes.holdout_every=1", "sizes.holdout_every=1", "integer >= 2"),
    (
        "+sizes.steering.scale_by_variance=maybe",
        "sizes.steering.scale_by_variance=maybe",
        "true or false",
    ),
    ("sizes.evaluate.discount=1.5", "sizes.evaluate.discount=1.5", "(0, 1]"),
    ("seeds=[-1]", "seeds=[-1]", "integers >= 0"),
    ("seeds=abc", "seeds=abc", "integers >= 0"),
    ("seeds=[0,0]", "seeds=[0,0]", "repeats"),
    ("seeds=[]", "seeds=[]", "integers >= 0"),
    ("stages=[datasets,nosuch]", "nosuch", "datasets"),
    ("device=gpu", "device=gpu", "auto, cpu, cuda, cuda:N, mps"),
    ("progress=maybe", "progress=maybe", "true or false"),
    ("+method.bc.steps=0", "method.bc.steps=0", "positive integer"),  # overrides sizes.bc
    ("sizes.retrain.pairs=[]", "sizes.retrain.pairs=[]", "pair-name patterns"),
    (
        "+sizes.pair_overrides={umaze-goal6: {diffusion: {steps: 0}}}",
        "sizes.pair_overrides.umaze-goal6.diffusion.steps=0",
        "positive integer",
    ),
    ("sizes.steering.pairs=some", "sizes.steering.pairs=some", "pair-name patterns"),
    ("sizes.images.harmful=[12]", "sizes.images.harmful=[12]", "digit classes 0..9"),
    ("sizes.digits.reward_steps=0", "sizes.digits.reward_steps=0", "positive integer"),
    ("+sizes.digits.target=other", "sizes.digits.target=other", "score"),
]


@pytest.mark.parametrize(("override", "option", "expected"), BAD_OPTIONS)
def test_run_bench_refuses_bad_options_before_anything_runs(
    make_config: Any,
    no_stage_runs: None,
    tmp_path: Path,
    override: str,
    option: str,
    expected: str,
) -> None:
    config = make_config("suite=smoke", "progress=false", override)
    tick = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        run_bench(config, out_dir=tmp_path / "out", cache_dir=tmp_path / "cache")
    assert time.perf_counter() - tick < 5
    message = str(info.value)
    assert option in message and expected in message, message
    assert "expected" in message
    assert not (tmp_path / "cache").exists() and not (tmp_path / "out").exists()


def test_every_problem_is_reported_at_once(make_config: Any) -> None:
    config = make_config("suite=smoke", "jobs=0", "sizes.diffusion.steps=0", "seeds=[-1]")
    with pytest.raises(ConfigError, match="invalid bench options") as info:
        validate_config(config)
    for option in ("jobs=0", "sizes.diffusion.steps=0", "seeds=[-1]"):
        assert option in str(info.value)


@pytest.mark.parametrize("suite", ["smoke", "default", "claims", "paper"])
def test_shipped_suites_pass(make_config: Any, suite: str) -> None:
    options = validate_config(make_config(f"suite={suite}"))
    assert options.seeds and options.jobs >= 1 and options.device == "cpu"


def test_normalised_options(make_config: Any) -> None:
    options = validate_config(
        make_config("suite=smoke", "seeds=3", "stages=[report,datasets]", "device=auto")
    )
    assert options.seeds == [3]  # one job of a `-m seeds=3,4` sweep
    assert options.stages == ["datasets", "report"]  # execution order
    assert options.device in ("cpu", "cuda")  # auto is resolved
    assert options.torch_threads == 1


def _cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str) -> int:
    """Run ``python -m rr_gym.bench ARGS`` in this process; returns the exit status."""
    argv = [
        "rr_gym/bench/__main__.py",
        *args,
        f"hydra.run.dir={tmp_path / 'run'}",
        "hydra/job_logging=none",
        "hydra/hydra_logging=none",
    ]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    monkeypatch.setenv("RR_GYM_BENCH_CACHE", str(tmp_path / "cache"))
    try:
        cli.main()
    except SystemExit as exit_:
        return int(exit_.code or 0)
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped the CLI")
    finally:
        GlobalHydra.instance().clear()
    return 0


@pytest.mark.parametrize(
    ("option", "shown"),
    [
        ("jobs=0", "jobs=0"),
        ("sizes.diffusion.steps=0", "sizes.diffusion.steps=0"),
        ("seeds=abc", "seeds=abc"),
        ("device=gpu", "cpu, cuda, cuda:N"),
    ],
)
def test_cli_reports_bad_option_in_one_paragraph(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_stage_runs: None,
    tmp_path: Path,
    option: str,
    shown: str,
) -> None:
    status = _cli(monkeypatch, tmp_path, "suite=smoke", "progress=false", option)
    err = capsys.readouterr().err
    assert status == 2, err
    assert shown in err and "expected" in err
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("error: ")
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    ("override", "group", "listed"),
    [
        ("suite=nosuch", "suite", "default, paper, smoke"),
        ("agent=nosuch", "agent", "ppo, sac"),
        ("method=[relative_reward,nosuch]", "method", "airl, bc, discriminator, gail"),
        ("pair=[umaze,nosuch]", "pair", "halfcheetah, hopper, large"),
        ("sizes=nosuch", "sizes", "default, paper, smoke"),
    ],
)
def test_cli_lists_the_options_of_a_group(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_stage_runs: None,
    tmp_path: Path,
    override: str,
    group: str,
    listed: str,
) -> None:
    status = _cli(monkeypatch, tmp_path, override)
    err = capsys.readouterr().err
    assert status != 0
    assert "nosuch" in err and f"available options in {group!r}: " in err and listed in err, err


def test_check_group_choices_in_sweeps() -> None:
    assert cli.check_group_choices(["-m", "pair=umaze,hopper", "seeds=[0],[1]"]) is None
    problem = cli.check_group_choices(["-m", "method=[gail],[bc,nosuch]"])
    assert problem is not None and "'nosuch'" in problem and "true_reward" in problem


def test_ctrl_c_prints_one_line_and_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setitem(stage_impl.PLANNERS, "datasets", interrupted)
    args = ("suite=smoke", "stages=[datasets]", "progress=false")
    status = _cli(monkeypatch, tmp_path, *args)
    err = capsys.readouterr().err
    assert status == 130, err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]  # earlier lines: third-party import warnings
    assert line.startswith("interrupted: ") and "resume" in line, err
    command = shlex.split(line.split("same command: ", 1)[1])
    assert command[:6] == ["python", "-m", "rr_gym.bench", *args]


def _dead_pid() -> int:
    for pid in range(999_999, 900_000, -1):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            continue
    pytest.skip("no free pid found")


def test_run_sweeps_stale_temporaries_first(
    make_config: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    name = f".0123456789abcdef.{_dead_pid()}@{io._HOST}.abc.tmp"
    stale = [cache / "diffusion" / name, cache / name]
    stale[0].mkdir(parents=True)
    (stale[0] / "weights.safetensors").write_bytes(b"half")
    stale[1].write_text("half")
    live = cache / "diffusion" / f".fedcba9876543210.{os.getpid()}@{io._HOST}.abc.tmp"
    live.mkdir()  # this process's own: in use, kept
    unit = cache / "diffusion" / "0123456789abcdef"
    unit.mkdir()
    seen: list[bool] = []

    def datasets(*args: Any, **kwargs: Any) -> dict[str, Any]:
        seen.append(any(p.exists() for p in stale))
        return {}

    monkeypatch.setitem(stage_impl.PLANNERS, "datasets", datasets)
    config = make_config("suite=smoke", "stages=[datasets]", "progress=false")
    with caplog.at_level(logging.INFO, logger="rr_gym.bench"):
        run_bench(config, out_dir=tmp_path / "out", cache_dir=cache)
    assert seen == [False]  # swept before the stages planned anything
    assert not any(p.exists() for p in stale)
    assert live.is_dir() and unit.is_dir()
    assert "removed 2 stale temporaries" in caplog.text
