"""WindowRewardNet: shapes, dependence on the window and the diffusion step, size, and the
double backward that gradient matching needs."""

from __future__ import annotations

import pytest
import torch

from rr_gym.errors import ConfigError
from rr_gym.rewards import WindowRewardNet
from rr_gym.rewards.network import TwiceDifferentiableMish
from tests._factories import seeded


def _net(window: int = 2, dim: int = 3, hidden: int = 8, depth: int = 2) -> WindowRewardNet:
    return seeded(lambda: WindowRewardNet(window, dim, hidden, depth, time_dim=4), 0)


def _w(m: int, window: int = 2, dim: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randn(m, window, dim, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("window", "dim", "m"), [(1, 1, 1), (1, 2, 5), (4, 3, 7), (64, 2, 2)])
def test_output_is_one_scalar_per_window(window: int, dim: int, m: int) -> None:
    net = _net(window, dim)
    out = net(_w(m, window, dim), torch.zeros(m, dtype=torch.long))
    assert out.shape == (m,) and out.dtype == torch.float32


def test_output_depends_on_the_diffusion_step() -> None:
    net = _net()
    w = _w(4)
    with torch.no_grad():
        at = {t: net(w, torch.full((4,), t)) for t in (0, 1, 50)}
    assert not torch.allclose(at[0], at[1]) and not torch.allclose(at[0], at[50])
    # Each row is scored at its own step.
    with torch.no_grad():
        mixed = net(w, torch.tensor([0, 1, 50, 0]))
    torch.testing.assert_close(mixed, torch.stack([at[0][0], at[1][1], at[50][2], at[0][3]]))


def test_output_depends_on_every_transition_of_the_window() -> None:
    net = _net(window=3)
    w = _w(2, window=3).requires_grad_(True)
    (grad,) = torch.autograd.grad(net(w, torch.zeros(2, dtype=torch.long)).sum(), w)
    assert (grad.abs().sum(-1) > 0).all()


def test_rows_are_scored_independently() -> None:
    net = _net()
    w = _w(5)
    t = torch.arange(5)
    with torch.no_grad():
        whole = net(w, t)
        parts = torch.cat([net(w[i : i + 1], t[i : i + 1]) for i in range(5)])
    torch.testing.assert_close(whole, parts)


@pytest.mark.parametrize(("window", "dim", "hidden", "depth"), [(1, 2, 8, 1), (4, 3, 16, 3)])
def test_parameter_count(window: int, dim: int, hidden: int, depth: int) -> None:
    time_dim = 4
    net = WindowRewardNet(window, dim, hidden, depth, time_dim=time_dim)
    time_mlp = (time_dim * 4 * time_dim + 4 * time_dim) + (4 * time_dim * time_dim + time_dim)
    first = (window * dim + time_dim) * hidden + hidden
    hidden_layers = (depth - 1) * (hidden * hidden + hidden)
    head = hidden + 1
    expected = time_mlp + first + hidden_layers + head
    assert sum(p.numel() for p in net.parameters()) == expected
    assert net.config == {
        "window": window,
        "transition_dim": dim,
        "hidden_dim": hidden,
        "depth": depth,
        "time_dim": time_dim,
    }


def test_double_backward_reaches_every_weight() -> None:
    # Gradient matching differentiates the input gradient with respect to the weights.
    net = _net()
    w = _w(6).requires_grad_(True)
    (grad,) = torch.autograd.grad(net(w, torch.arange(6)).sum(), w, create_graph=True)
    (grad**2).sum().backward()
    output_bias = f"mlp.{len(net.mlp) - 1}.bias"  # no effect on the input gradient
    for name, p in net.named_parameters():
        if name == output_bias:
            assert p.grad is None or not p.grad.any()
            continue
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0, 2, 8, 1, 4), "window=0"),
        ((1, 0, 8, 1, 4), "transition_dim=0"),
        ((1, 2, 0, 1, 4), "hidden_dim=0"),
        ((1, 2, 8, 0, 4), "depth=0"),
        ((1, 2, 8, 1, 0), "time_dim=0"),
        ((1, 2, 8, 1, 5), "time_dim=5; expected a positive even size"),
    ],
)
def test_bad_sizes_are_config_errors(args: tuple[int, ...], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        WindowRewardNet(*args)


def test_the_step_embedding_computed_once_per_step_gives_the_concatenated_formula() -> None:
    """forward gathers the first layer's step part per distinct step; it equals the MLP on
    ``[w, emb(t)]`` row by row."""
    net = _net()
    w, t = _w(9), torch.tensor([0, 3, 3, 1, 0, 7, 7, 7, 2])
    expected = net.mlp(torch.cat([w.reshape(9, -1), net.time_emb(t)], dim=-1)).squeeze(-1)
    torch.testing.assert_close(net(w, t), expected)


def test_mish_is_twice_differentiable_where_the_fused_one_is_not() -> None:
    z = torch.linspace(-200.0, 200.0, 4001, requires_grad=True)
    second = {}
    for name, act in (("fused", torch.nn.Mish()), ("composite", TwiceDifferentiableMish())):
        (g,) = torch.autograd.grad(act(z).sum(), z, create_graph=True)
        second[name] = torch.autograd.grad(g.sum(), z)[0]
    torch.testing.assert_close(TwiceDifferentiableMish()(z), torch.nn.Mish()(z))
    assert bool(torch.isfinite(second["composite"]).all())
    assert not bool(torch.isfinite(second["fused"][z > 89]).all())  # why it exists
    finite = z < 80
    torch.testing.assert_close(second["composite"][finite], second["fused"][finite])


def test_the_network_folds_into_the_mlp_it_computes() -> None:
    net = seeded(lambda: WindowRewardNet(window=2, transition_dim=3, hidden_dim=8, depth=2), 0)
    folded = net.foldable(5)
    assert [m.out_features for m in folded.linears] == [8, 8, 1]
    assert folded.time_embedding.shape == (net.config["time_dim"],)
    w = torch.randn(4, 2, 3)
    h = torch.cat([w.reshape(4, -1), folded.time_embedding.expand(4, -1)], dim=1)
    for lin in folded.linears[:-1]:
        h = torch.nn.functional.mish(lin(h))
    want = net(w, torch.full((4,), 5))
    torch.testing.assert_close(folded.linears[-1](h).squeeze(-1), want)


def test_only_rewards_that_are_one_mlp_are_foldable() -> None:
    from rr_gym.baselines import DiscriminatorReward
    from rr_gym.layout import TransitionLayout
    from rr_gym.rewards import RelativeRewardModel

    layout = TransitionLayout.flat(2)
    assert RelativeRewardModel(layout, hidden_dim=8).foldable(0) is not None
    assert DiscriminatorReward(layout, hidden_sizes=(8,)).foldable(0) is None
