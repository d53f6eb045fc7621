"""The benchmark suite: ``python -m rr_gym.bench`` (a Hydra app over this package).

It takes dataset pairs (base, expert), trains the diffusion models, extracts the relative
reward, trains the baselines, evaluates every reward against the true one, retrains SB3
agents on each, runs the steering experiment and writes ``report.md`` with figures. Stages
are cached on disk by config hash (:class:`StageCache`); results go to ``results.csv``
(:class:`ResultsTable`). The library API underneath takes plain arguments::

    from rr_gym.bench import run_bench
    summary = run_bench(config_dict, out_dir="bench_out/mine")

See docs/quickstart.md, docs/extending.md (new pairs and methods) and
docs/distributed.md (joblib and Ray sweeps).
"""

from rr_gym.bench.cache import StageCache, canonical_json, config_hash
from rr_gym.bench.methods import METHODS, FitContext, Fitted, Method, register_method
from rr_gym.bench.options import BenchOptions, validate_config
from rr_gym.bench.pairs import PAIR_KINDS, PairKind, PairSpec, register_pair_kind
from rr_gym.bench.results import COLUMNS, ResultRow, ResultsTable
from rr_gym.bench.runner import STAGES, BenchSummary, run_bench

__all__ = [
    "COLUMNS",
    "METHODS",
    "PAIR_KINDS",
    "STAGES",
    "BenchOptions",
    "BenchSummary",
    "FitContext",
    "Fitted",
    "Method",
    "PairKind",
    "PairSpec",
    "ResultRow",
    "ResultsTable",
    "StageCache",
    "canonical_json",
    "config_hash",
    "register_method",
    "register_pair_kind",
    "run_bench",
    "validate_config",
]
