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
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

__all__ = ["main"]

logger = logging.getLogger("rr_gym.bench")


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
def main(cfg: DictConfig) -> None:
    """Run the configured suite and print its summary table."""
    import torch
    from hydra.core.hydra_config import HydraConfig

    from rr_gym.bench.report import summary_table
    from rr_gym.bench.runner import run_bench

    config = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(config, dict)
    if config.get("torch_threads"):
        torch.set_num_threads(int(config["torch_threads"]))
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    summary = run_bench(config, out_dir=out_dir, cache_dir=_cache_dir(config, out_dir))
    print(summary_table(summary))


if __name__ == "__main__":
    main()
