"""The command line: generate, list, info, and errors as exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import minari
import pytest

from rr_gym.data.cli import main
from tests.data._damaged import GOAL1, copy_dataset, truncate


def test_generate_pointmaze_goal_and_base(
    minari_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "-q",
                "generate",
                "pointmaze",
                "--maze",
                "umaze",
                "--goal",
                "1,2",
                "--steps",
                "300",
                "--seed",
                "4",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "-q",
                "generate",
                "pointmaze",
                "--maze",
                "umaze",
                "--base",
                "--steps",
                "300",
                "--seed",
                "4",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "rr_gym/pointmaze-umaze-goal2-v0: 300 steps" in out
    assert set(minari.list_local_datasets()) == {
        "rr_gym/pointmaze-umaze-goal1-v0",
        "rr_gym/pointmaze-umaze-goal2-v0",
        "rr_gym/pointmaze-umaze-base-v0",
    }
    assert (
        minari.load_dataset("rr_gym/pointmaze-umaze-goal2-v0").storage.metadata["rr_gym"]["seed"]
        == 4
    )


@pytest.mark.usefixtures("umaze_datasets")
def test_list_and_info(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "rr_gym/pointmaze-umaze-base-v0" in out and "mean return" in out
    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["dataset_id"] for r in rows} == {
        "rr_gym/pointmaze-umaze-base-v0",
        "rr_gym/pointmaze-umaze-goal1-v0",
    }
    assert all(r["total_steps"] == 3000 and r["mean_return"] is not None for r in rows)
    assert main(["info", "rr_gym/pointmaze-umaze-goal1-v0"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["metadata"]["rr_gym"]["goal_cell"] == [1, 2]
    assert info["summary"]["env_id"] == "PointMaze_UMaze-v3"


def test_empty_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    assert "(no local dataset)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["generate", "pointmaze", "--maze", "umaze", "--goal", "9", "--steps", "10"],
            "goal 9 does not exist",
        ),
        (["generate", "locomotion", "--env", "hopper", "--levels", "superb"], "superb"),
        (["info", "rr_gym/nothing-v0"], "generate pointmaze"),
    ],
)
def test_errors_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", *argv]) == 2
    assert message in capsys.readouterr().err


def test_argparse_rejects_unknown_maze(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["generate", "pointmaze", "--maze", "spiral", "--base"])
    assert "invalid choice: 'spiral'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--max-episode-steps", "0", "expected a positive integer"),
        ("--max-episode-steps", "-5", "expected a positive integer"),
        ("--steps", "0", "expected a positive integer"),
        ("--steps", "1e3", "expected a positive integer"),
        ("--seed", "-1", "expected a non-negative integer seed"),
        ("--goal", "", "expected a goal index"),
        ("--goal", " ", "expected a goal index"),
        ("--goal", "1,,2", "empty goal"),
        ("--goal", "-1", "is not a non-negative integer"),
        ("--goal", "x", "is not a non-negative integer"),
    ],
)
def test_pointmaze_options_are_checked_by_argparse(
    option: str, value: str, expected: str, minari_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["generate", "pointmaze", "--maze", "umaze", "--steps", "10"]
    argv += [f"{option}={value}"] if option == "--goal" else ["--goal", "1", option, value]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and f"argument {option}:" in err and expected in err
    assert repr(value) in err or f": {value} is out of range" in err  # names the value
    assert not minari_root.exists()  # refused before anything was generated


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--train-steps", "0", "expected a positive integer"),
        ("--steps-per-level", "-1", "expected a positive integer"),
        ("--seed", "-2", "expected a non-negative integer seed"),
        ("--eval-every", "0", "expected a positive integer"),
        ("--eval-episodes", "0", "expected a positive integer"),
        ("--action-std", "nan", "expected a finite float"),
        ("--action-std", "inf", "expected a finite float"),
    ],
)
def test_locomotion_options_are_checked_by_argparse(
    option: str, value: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "locomotion", "--env", "hopper", option, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}:" in err and value in err and expected in err


def test_valid_goal_lists_still_parse() -> None:
    from rr_gym.data.cli import build_parser

    parse = build_parser().parse_args
    base = ["generate", "pointmaze", "--maze", "umaze", "--max-episode-steps", "1"]
    assert parse([*base, "--goal", "all"]).goal == "all"
    assert parse([*base, "--goal", " 0, 2 "]).goal == "0,2"
    assert parse([*base, "--goal", "1", "--seed", "0"]).max_episode_steps == 1


def test_truncated_dataset_exits_2_naming_the_file(
    umaze_root: Path, minari_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = copy_dataset(umaze_root, minari_root)
    truncate(path)
    for argv in (["info", GOAL1], ["list"]):
        assert main(["-q", *argv]) == 2
        err = capsys.readouterr().err
        assert str(path) in err and "truncated or corrupt" in err and "--overwrite" in err
    argv = ["-q", "generate", "pointmaze", "--maze", "umaze", "--goal", "1", "--steps", "300"]
    assert main([*argv, "--overwrite"]) == 0  # the remedy the message gives
    assert main(["-q", "info", GOAL1]) == 0


def test_module_entry_point(minari_root: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rr_gym.data", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert str(minari_root) in proc.stdout


def test_generate_locomotion_then_reuse_policies(
    minari_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "-q",
        "generate",
        "locomotion",
        "--env",
        "hopper",
        "--levels",
        "medium,expert",
        "--train-steps",
        "2048",
        "--eval-every",
        "1024",
        "--eval-episodes",
        "1",
        "--steps-per-level",
        "300",
        "--seed",
        "2",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "PPO: 2048 steps" in out and "rr_gym/hopper-expert-v0: 300 steps" in out
    policy_dir = minari_root / "rr_gym" / "policies" / "hopper-seed2"
    assert sorted(p.name for p in policy_dir.iterdir()) == [
        "expert.safetensors",
        "medium.safetensors",
    ]
    assert main([*argv, "--reuse-policies", "--overwrite"]) == 0
    out = capsys.readouterr().out
    assert "PPO:" not in out and "rr_gym/hopper-medium-v0: 300 steps" in out
    assert set(minari.list_local_datasets()) == {
        "rr_gym/hopper-medium-v0",
        "rr_gym/hopper-expert-v0",
    }
