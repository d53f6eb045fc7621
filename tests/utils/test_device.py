"""resolve_device: 'auto', explicit names, and CUDA requested where there is none."""

from __future__ import annotations

import pytest
import torch

from rr_gym.errors import ConfigError
from rr_gym.utils.device import resolve_device


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_cpu_and_device_objects() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_auto_picks_cpu_without_cuda(no_cuda: None) -> None:
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device() == torch.device("cpu")


@pytest.mark.parametrize("device", ["cuda", "cuda:1", torch.device("cuda")])
def test_cuda_without_cuda_is_a_config_error(no_cuda: None, device: object) -> None:
    with pytest.raises(ConfigError, match="CUDA"):
        resolve_device(device)  # type: ignore[arg-type]


@pytest.mark.parametrize("device", ["gpu", "", "cuda:x"])
def test_unknown_device_name_is_a_config_error(device: str) -> None:
    with pytest.raises(ConfigError, match=repr(device)):
        resolve_device(device)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_auto_picks_cuda_when_available() -> None:
    assert resolve_device("auto").type == "cuda"
    assert resolve_device("cuda:0") == torch.device("cuda:0")
