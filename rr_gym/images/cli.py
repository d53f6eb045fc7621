"""``python -m rr_gym.images``: the digits analogue of the paper's Stable Diffusion experiment.

Example::

    python -m rr_gym.images --harmful 3 --seed 0 --out runs/digits-3
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from rr_gym.errors import RRGymError

__all__ = ["main"]


def _widths(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}; expected widths like 16,32") from exc


def _parser() -> argparse.ArgumentParser:
    from rr_gym.images.digits import DigitsConfig

    d = DigitsConfig(harmful=0)
    p = argparse.ArgumentParser(
        prog="python -m rr_gym.images",
        description="Base diffusion model on all 8x8 digits vs a 'safe' expert without the "
        "harmful class; extract the relative reward, rank held-out digits by it and guide the "
        "base model with it. Writes OUT/metrics.json, OUT/figures/ and OUT/models/.",
    )
    p.add_argument(
        "--harmful", type=int, required=True, help="the class the expert never sees (0-9)"
    )
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--diffusion-steps", type=int, default=d.diffusion_steps)
    p.add_argument("--reward-steps", type=int, default=d.reward_steps)
    p.add_argument("--n-diffusion-steps", type=int, default=d.n_diffusion_steps, help="T")
    p.add_argument("--target", choices=["score", "posterior_mean"], default=d.target)
    p.add_argument("--samples", type=int, default=d.samples, help="images per generator")
    p.add_argument("--scale", type=float, default=d.scale, help="guidance scale")
    p.add_argument("--unet-channels", type=_widths, default=d.unet_channels, help="e.g. 16,32")
    p.add_argument("--reward-channels", type=_widths, default=d.reward_channels, help="e.g. 16,32")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one digits experiment; 0 on success, 2 on bad input (message on stderr)."""
    args = _parser().parse_args(argv)
    try:
        import sklearn  # noqa: F401

        from rr_gym.images.digits import DigitsConfig, run_digits

        config = DigitsConfig(
            harmful=args.harmful,
            seed=args.seed,
            diffusion_steps=args.diffusion_steps,
            reward_steps=args.reward_steps,
            n_diffusion_steps=args.n_diffusion_steps,
            target=args.target,
            samples=args.samples,
            scale=args.scale,
            batch_size=args.batch_size,
            unet_channels=args.unet_channels,
            reward_channels=args.reward_channels,
        )
        metrics = run_digits(config, args.out, device=args.device, progress=not args.no_progress)
    except ImportError as exc:
        print(
            f"error: {exc}; install the images extra: pip install 'rr_gym[images]'", file=sys.stderr
        )
        return 2
    except RRGymError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    shown = {k: v for k, v in metrics.items() if k != "config"}
    print(json.dumps(shown, indent=2))
    return 0
