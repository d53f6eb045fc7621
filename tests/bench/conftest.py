"""Fixtures of the bench tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf


@pytest.fixture
def make_config() -> Iterator[Any]:
    """``make(*overrides)``: the bench's composed config as plain data."""
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="rr_gym.bench.conf", version_base="1.3"):

        def make(*overrides: str) -> dict[str, Any]:
            cfg = compose(config_name="config", overrides=list(overrides))
            out = OmegaConf.to_container(cfg, resolve=True)
            assert isinstance(out, dict)
            return out

        yield make
    GlobalHydra.instance().clear()
