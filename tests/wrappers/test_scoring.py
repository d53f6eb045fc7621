"""The folded paths (compiled kernel, NumPy) equal the model's forward and follow weight
updates."""

from __future__ import annotations

import copy
import pickle
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from rr_gym.errors import ConfigError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.wrappers import native, scoring
from rr_gym.wrappers.scoring import RewardScorer
from tests._factories import relative_reward
from tests.wrappers._helpers import LINE_LAYOUT, ConstantPlusAction, line_model

FOLDED = [
    pytest.param(
        "native",
        marks=pytest.mark.skipif(not native.available(), reason="compiled kernel not built here"),
    ),
    "numpy",
]


def test_auto_takes_the_kernel_when_built_else_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RewardScorer(line_model()).backend == ("native" if native.available() else "numpy")
    monkeypatch.setattr(native, "available", lambda: False)
    assert RewardScorer(line_model()).backend == "numpy"
    with pytest.raises(ConfigError, match="backend='native' needs the compiled reward kernel"):
        RewardScorer(line_model(), backend="native")


@pytest.mark.parametrize("backend", FOLDED)
@pytest.mark.parametrize("window", [1, 3])
@pytest.mark.parametrize("rows", [1, 9, 40])
def test_folded_paths_equal_predict(backend: str, window: int, rows: int) -> None:
    model = line_model(window=window)
    scorer = RewardScorer(model, backend=backend)  # type: ignore[arg-type]
    assert scorer.backend == backend
    x = np.random.default_rng(0).normal(0, 3, size=(rows, window, 7)).astype(np.float32)
    np.testing.assert_allclose(scorer(x), model.predict(x), rtol=1e-5, atol=1e-6)
    torch_scorer = RewardScorer(model, backend="torch")
    np.testing.assert_allclose(torch_scorer(x), model.predict(x), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("window", [1, 3])
@pytest.mark.parametrize(
    ("rows", "torch_mish"), [(40, True), (64, True), (65, False), (3000, False)]
)
def test_numpy_path_equals_the_torch_reward_on_both_sides_of_the_mish_switch(
    window: int, rows: int, torch_mish: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hidden layers are 16 wide: up to 64 rows (1,024 entries) Mish runs in torch,
    # above in NumPy (_mish_); both must give the torch reward's own output.
    model = line_model(window=window)
    gen = np.random.default_rng(rows)
    spread = np.geomspace(0.1, 30.0, rows, dtype=np.float32)[:, None, None]  # large |h| too
    x = (gen.normal(size=(rows, window, 7)) * spread).astype(np.float32)
    want = RewardScorer(model, backend="torch")(x)
    np.testing.assert_allclose(want, model.predict(x), rtol=1e-6, atol=1e-7)
    scorer = RewardScorer(model, backend="numpy")
    calls: list[int] = []

    def counted_mish(h: torch.Tensor, inplace: bool = False) -> Any:
        calls.append(h.numel())
        return torch.nn.functional.mish(h, inplace=inplace)

    monkeypatch.setattr(scoring, "F", SimpleNamespace(mish=counted_mish))
    got = scorer(x)
    assert calls == ([rows * 16] * 2 if torch_mish else [])  # which Mish ran, per layer
    assert got.shape == (rows,) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_numpy_mish_equals_torch_mish_over_its_range() -> None:
    # exp overflow is clipped at 20 and tiny exp(h) must not lose precision
    h = np.concatenate(
        [
            np.linspace(-30.0, 30.0, 4001, dtype=np.float32),
            np.array([-1e30, -100.0, -20.0, 19.999, 20.0, 20.001, 88.0, 100.0, 1e30], np.float32),
        ]
    ).reshape(-1, 5)
    assert h.size > scoring._TORCH_MISH_MAX
    want = torch.nn.functional.mish(torch.from_numpy(h.copy())).numpy()
    got = h.copy()
    scoring._mish_(got, np.empty_like(h), np.empty_like(h))
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("backend", FOLDED)
def test_folded_paths_are_exact_with_a_narrow_normaliser_far_from_zero(backend: str) -> None:
    # The normaliser is folded into the first layer; inputs like a Hopper joint angle
    # (mean 1.2, std 0.004) must not lose the model's precision to cancellation.
    dim = LINE_LAYOUT.dim
    norm = Normalizer(np.full(dim, 1.2), np.full(dim, 0.004), "gaussian")
    model = line_model(normalizer=norm)
    scorer = RewardScorer(model, backend=backend)  # type: ignore[arg-type]
    gen = np.random.default_rng(2)
    x = (1.2 + 0.004 * gen.normal(0, 3, size=(16, 1, dim))).astype(np.float32)
    np.testing.assert_allclose(scorer(x), model.predict(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", FOLDED)
def test_folded_paths_follow_training_and_loaded_weights(backend: str) -> None:
    model = line_model()
    scorer = RewardScorer(model, backend=backend)  # type: ignore[arg-type]
    x = np.random.default_rng(1).normal(size=(4, 1, 7)).astype(np.float32)
    before = scorer(x)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    model.forward(torch.as_tensor(x), 0).sum().backward()
    opt.step()
    np.testing.assert_allclose(scorer(x), model.predict(x), rtol=1e-5, atol=1e-6)
    assert not np.allclose(scorer(x), before)
    model.load_state_dict(line_model(seed=7).state_dict())
    np.testing.assert_allclose(scorer(x), model.predict(x), rtol=1e-5, atol=1e-6)
    assert scorer.backend == backend


def test_backends_a_model_cannot_use_are_refused() -> None:
    plain = ConstantPlusAction(TransitionLayout.from_sizes(observation=2, action=1))
    scorer = RewardScorer(plain)
    assert scorer.backend == "predict"
    np.testing.assert_array_equal(scorer(np.ones((2, 1, 3), np.float32)), [2.0, 2.0])
    with pytest.raises(ConfigError, match="TorchRewardModel"):
        RewardScorer(plain, backend="numpy")
    with pytest.raises(ConfigError, match="backend='gpu'"):
        RewardScorer(relative_reward(), backend="gpu")  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", FOLDED)
def test_scorers_pickle_and_deepcopy(backend: str) -> None:
    # wrapped envs are deep-copied and pickled by users and vector-env tooling
    model = line_model()
    scorer = RewardScorer(model, backend=backend)  # type: ignore[arg-type]
    x = np.random.default_rng(3).normal(size=(5, 1, 7)).astype(np.float32)
    for clone in (copy.deepcopy(scorer), pickle.loads(pickle.dumps(scorer))):
        assert clone.backend == backend
        np.testing.assert_array_equal(clone(x), scorer(x))


def _report_threads(queue: Any) -> None:
    queue.put(torch.get_num_threads())


def test_importing_the_wrappers_leaves_forked_children_threads_alone() -> None:
    # no fork hook at import: only a RelativeReward built inside an AsyncVectorEnv worker
    # sets its own process to one thread (tests/wrappers/test_relative_reward.py)
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        queue = ctx.Queue()
        child = ctx.Process(target=_report_threads, args=(queue,))
        child.start()
        threads = queue.get(timeout=60)
        child.join(timeout=60)
    finally:
        torch.set_num_threads(before)
    assert threads == 2
