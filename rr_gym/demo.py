"""End-to-end demo on a 2-D problem with a known answer, and the figure of it.

Two Gaussian mixtures stand in for base and expert behaviour. Diffusion models are trained
on samples of each, the relative reward is extracted by gradient matching, and it is
compared with the true log density ratio ``log p_expert - log p_base`` on held-out points.

Run ``python -m rr_gym.demo --out demo_out`` to write ``toy2d.png`` and ``toy2d.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr

from rr_gym.api import extract_reward, train_diffusion
from rr_gym.diffusion.analytic import GaussianMixtureDiffusion
from rr_gym.diffusion.gaussian import GaussianDiffusion
from rr_gym.diffusion.schedule import NoiseSchedule
from rr_gym.normalizer import Normalizer
from rr_gym.rewards.gradient_matching import EvalPoint, MatchTarget
from rr_gym.rewards.relative import RelativeRewardModel

__all__ = ["ToyProblem", "ToyResult", "main", "run_toy_2d", "toy_problem"]

logger = logging.getLogger(__name__)


@dataclass
class ToyProblem:
    """The two 2-D data distributions (exact, analytic) and a schedule for the models."""

    base: GaussianMixtureDiffusion
    expert: GaussianMixtureDiffusion

    def true_reward(self, x: np.ndarray) -> np.ndarray:
        """``log p_expert(x) - log p_base(x)`` for raw points ``(N, 2)``; returns ``(N,)``."""
        pts = torch.as_tensor(x, dtype=torch.float32)[:, None, :]
        return (self.expert.data_log_prob(pts) - self.base.data_log_prob(pts)).numpy()


def toy_problem(n_diffusion_steps: int = 100) -> ToyProblem:
    """Base: four Gaussians on the corners of a square; expert: the same mixture, shifted.

    The log density ratio is non-linear (it is a ratio of mixtures), has its maximum on the
    expert's side and varies over the whole plane, so a ranking of it is a real test.
    """
    schedule = NoiseSchedule(n_diffusion_steps)
    corners = np.array([[-1.5, -1.5], [-1.5, 1.5], [1.5, -1.5], [1.5, 1.5]])
    base = GaussianMixtureDiffusion(corners, np.full((4, 2), 0.6), schedule)
    expert = GaussianMixtureDiffusion(
        corners + np.array([0.8, 0.4]), np.full((4, 2), 0.45), schedule
    )
    return ToyProblem(base, expert)


@dataclass
class ToyResult:
    """Metrics of :func:`run_toy_2d` and the trained models (not serialised)."""

    pearson: float
    spearman: float
    n_test: int
    seconds: float
    settings: dict[str, object]
    reward: RelativeRewardModel | None = None
    base: GaussianDiffusion | None = None
    expert: GaussianDiffusion | None = None

    def metrics(self) -> dict[str, object]:
        """The JSON-friendly part."""
        out = asdict(self)
        for key in ("reward", "base", "expert"):
            out.pop(key)
        return out


def run_toy_2d(
    *,
    n_train: int = 20_000,
    n_test: int = 2_000,
    diffusion_steps: int = 2_000,
    reward_steps: int = 2_000,
    target: MatchTarget = "score",
    eval_at: EvalPoint = "x_t",
    hidden_dim: int = 128,
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
) -> ToyResult:
    """Train base and expert diffusion models on the toy problem, extract the reward, and
    correlate it (at t = 0) with the true log density ratio on held-out points drawn from
    both distributions."""
    start = time.perf_counter()
    problem = toy_problem()
    rng = np.random.default_rng(seed)
    base_x = problem.base.sample_data(n_train, rng)
    expert_x = problem.expert.sample_data(n_train, rng)
    both = np.concatenate([base_x, expert_x])
    norm = Normalizer.identity(2)  # the data is already on a unit scale
    common = {
        "horizon": 1,
        "steps": diffusion_steps,
        "seed": seed,
        "device": device,
        "normalizer": norm,
        "network": {"hidden_dim": 256, "depth": 3},
        "batch_size": 256,
        "lr": 1e-3,
        "progress": progress,
    }
    base = train_diffusion(base_x, **common)  # type: ignore[arg-type]
    expert = train_diffusion(expert_x, **common)  # type: ignore[arg-type]
    reward = extract_reward(
        base,
        expert,
        both,
        steps=reward_steps,
        seed=seed,
        device=device,
        target=target,
        eval_at=eval_at,
        hidden_dim=hidden_dim,
        progress=progress,
    )
    test = np.concatenate(
        [problem.base.sample_data(n_test // 2, rng), problem.expert.sample_data(n_test // 2, rng)]
    )[:, 0, :]
    pred = reward.predict(test, t=0)
    true = problem.true_reward(test)
    settings = {
        "n_train": n_train,
        "diffusion_steps": diffusion_steps,
        "reward_steps": reward_steps,
        "target": target,
        "eval_at": eval_at,
        "hidden_dim": hidden_dim,
        "seed": seed,
    }
    return ToyResult(
        pearson=float(pearsonr(pred, true)[0]),
        spearman=float(spearmanr(pred, true)[0]),
        n_test=len(test),
        seconds=time.perf_counter() - start,
        settings=settings,
        reward=reward,
        base=base,
        expert=expert,
    )


def plot_toy_2d(result: ToyResult, path: Path) -> None:
    """Heatmaps of the true and the extracted reward over the plane, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    assert result.reward is not None
    problem = toy_problem()
    xs = np.linspace(-3.5, 3.5, 141)
    grid = np.stack(np.meshgrid(xs, xs), -1).reshape(-1, 2).astype(np.float32)
    true = problem.true_reward(grid).reshape(len(xs), len(xs))
    pred = result.reward.predict(grid, t=0).reshape(len(xs), len(xs))
    sns.set_theme(style="white")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), constrained_layout=True)
    for ax, values, title in (
        (axes[0], true, "true  log p_expert - log p_base"),
        (axes[1], pred, "extracted relative reward (t = 0)"),
    ):
        im = ax.imshow(values, origin="lower", extent=(xs[0], xs[-1], xs[0], xs[-1]), cmap="magma")
        ax.set_title(title)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        fig.colorbar(im, ax=ax, shrink=0.85)
    fig.suptitle(
        f"Pearson {result.pearson:.3f}, Spearman {result.spearman:.3f} on "
        f"{result.n_test} held-out points"
    )
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """CLI: train the toy problem, print the correlations, write the figure and metrics."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo_out"))
    parser.add_argument("--n-train", type=int, default=20_000, help="points per distribution")
    parser.add_argument("--n-test", type=int, default=2_000, help="held-out points in all")
    parser.add_argument("--diffusion-steps", type=int, default=2000)
    parser.add_argument("--reward-steps", type=int, default=2000)
    parser.add_argument("--target", choices=["posterior_mean", "score"], default="score")
    parser.add_argument("--eval-at", choices=["posterior_mean", "x_t"], default="x_t")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run_toy_2d(
        n_train=args.n_train,
        n_test=args.n_test,
        diffusion_steps=args.diffusion_steps,
        reward_steps=args.reward_steps,
        target=args.target,
        eval_at=args.eval_at,
        seed=args.seed,
        device=args.device,
        progress=args.progress,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    plot_toy_2d(result, args.out / "toy2d.png")
    (args.out / "toy2d.json").write_text(json.dumps(result.metrics(), indent=2))
    print(
        f"relative reward vs true log density ratio: Pearson {result.pearson:.3f}, "
        f"Spearman {result.spearman:.3f} ({result.seconds:.0f} s); "
        f"figure: {args.out / 'toy2d.png'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
