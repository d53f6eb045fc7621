"""report.md's tables that are not claims: the datasets of a run."""

from __future__ import annotations


def test_data_table_lists_each_dataset_with_raw_and_normalised_return(
    make_config, tmp_path
) -> None:
    import json
    from types import SimpleNamespace

    from rr_gym.bench.pairs import expand_pairs
    from rr_gym.bench.report import data_table

    cfg = make_config()
    pairs = expand_pairs(cfg["pair"], cfg["sizes"])
    hopper = pairs[-1]
    summary = tmp_path / "summary.json"
    summary.write_text(
        json.dumps(
            {hopper.expert.dataset_id: {"episodes": 51, "steps": 50000, "mean_return": 2681.8}}
        )
    )
    artifacts = [
        {
            "pair": hopper.name,
            "role": "expert",
            "dataset_id": hopper.expert.dataset_id,
            "source": "generated",
            "summary": str(summary),
        },
        {
            "pair": pairs[0].name,
            "role": "base",
            "dataset_id": "mujoco/x-v0",
            "source": "minari",
            "summary": None,
        },
    ]
    table = data_table(SimpleNamespace(pairs=pairs, artifacts={"datasets": artifacts}))  # type: ignore[arg-type]
    expert_row = next(line for line in table.splitlines() if "expert" in line and "51" in line)
    assert "50000" in expert_row and "2681.8" in expert_row
    assert "83.0" in expert_row  # D4RL-normalised: 100 (2681.8 + 20.27) / (3234.3 + 20.27)
    assert "| minari | – | – | – | – |" in table
