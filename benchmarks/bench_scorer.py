"""Microseconds per reward evaluation of the env wrappers' paths, by batch size (issue 4).

A ``RelativeRewardModel`` of ``rr_gym.extract_reward``'s default size (MLP 256 x 3, step
embedding 32) over PointMaze's ``observation + action`` (6 values), scored at diffusion
step 0 by :class:`rr_gym.wrappers.scoring.RewardScorer` through each backend this machine has:

- ``native``: the compiled kernel (``rr_gym.wrappers.native``), when it was built;
- ``numpy``: the same folded MLP in NumPy;
- ``torch``: the model's ``forward`` under ``no_grad``.

The backends alternate in blocks of ``--calls`` calls; each number is the fastest block of
``--rounds`` (the least disturbed by other work on a shared machine). Nothing else runs in
between, so the weights stay in cache: inside an env loop every path is slower
(``bench_wrappers.py`` measures that).

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_scorer.py [--rows 1,8,64,256]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from rr_gym.layout import TransitionLayout
from rr_gym.rewards import RelativeRewardModel
from rr_gym.wrappers import native
from rr_gym.wrappers.scoring import RewardScorer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1,8,16,32,64,256", help="batch sizes")
    parser.add_argument("--calls", type=int, default=100, help="calls per timed block")
    parser.add_argument("--rounds", type=int, default=15, help="blocks per backend and size")
    parser.add_argument("--hidden-dim", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    layout = TransitionLayout.from_sizes(observation=4, action=2)
    model = RelativeRewardModel(layout, hidden_dim=args.hidden_dim).eval()
    backends = (["native"] if native.available() else []) + ["numpy", "torch"]
    scorers = {b: RewardScorer(model, backend=b) for b in backends}  # type: ignore[arg-type]
    print(f"reward MLP {args.hidden_dim} x 3; us per call, fastest of {args.rounds} blocks")
    print("| rows | " + " | ".join(backends) + " | numpy / native |")
    print("|---:|" + "---:|" * len(backends) + "---:|")
    for rows in (int(r) for r in args.rows.split(",")):
        x = np.random.default_rng(rows).normal(size=(rows, 1, layout.dim)).astype(np.float32)
        best = dict.fromkeys(backends, float("inf"))
        for _ in range(args.rounds):
            for name, scorer in scorers.items():
                start = time.perf_counter()
                for _ in range(args.calls):
                    scorer(x)
                best[name] = min(best[name], (time.perf_counter() - start) / args.calls * 1e6)
        ratio = f"{best['numpy'] / best['native']:.2f}" if "native" in best else "-"
        cells = " | ".join(f"{best[b]:,.1f}" for b in backends)
        print(f"| {rows} | {cells} | {ratio} |")


if __name__ == "__main__":
    main()
