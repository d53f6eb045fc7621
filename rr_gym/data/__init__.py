"""Data: Minari datasets in and out, locally generated maze and locomotion datasets, windows.

Loading (any Minari dataset, by id, path or object) into what the diffusion models eat::

    from rr_gym.data import make_windows
    data = make_windows("rr_gym/pointmaze-umaze-goal1-v0", horizon=64, stride=4, tail="pad")
    data.windows      # (N, 64, 6) float32 raw [x, y, vx, vy, ax, ay]
    data.rewards      # (N, 64) float32 true rewards
    norm = data.fit_normalizer("gaussian")

Generating (offline, deterministic for a seed), also from the command line
(``python -m rr_gym.data --help``)::

    from rr_gym.data import generate_pointmaze, generate_locomotion
    generate_pointmaze("umaze", goal=1, steps=1_000_000, seed=0)   # expert data, goal 1
    generate_pointmaze("umaze", steps=1_000_000, seed=0)           # base data
    generate_locomotion("hopper", levels="medium-replay,expert", seed=0)

Datasets live under ``$MINARI_DATASETS_PATH`` (default ``~/.minari/datasets``).
"""

from rr_gym.data.catalog import DatasetSummary, list_local_datasets, summarize
from rr_gym.data.ids import LOCOMOTION_LEVELS, locomotion_dataset_id, pointmaze_dataset_id
from rr_gym.data.loading import load_dataset
from rr_gym.data.locomotion import LOCOMOTION_ENV_IDS
from rr_gym.data.locomotion_datasets import LocomotionResult, generate_locomotion
from rr_gym.data.maze import GOAL_CELLS, MAZE_ENV_IDS, MAZE_NAMES, MazeGeometry
from rr_gym.data.pointmaze import generate_pointmaze
from rr_gym.data.policies import MLPPolicy
from rr_gym.data.reference import (
    REFERENCE_SCORES,
    ReferenceScore,
    normalized_score,
    reference_score,
)
from rr_gym.data.storage import DatasetWriter, EpisodeArrays
from rr_gym.data.windows import WindowDataset, make_transitions, make_windows

# What a user calls; the building blocks (rr_gym.data.fields, .locomotion, .storage, ...)
# stay importable from their modules.
__all__ = [
    "GOAL_CELLS",
    "LOCOMOTION_ENV_IDS",
    "LOCOMOTION_LEVELS",
    "MAZE_ENV_IDS",
    "MAZE_NAMES",
    "REFERENCE_SCORES",
    "DatasetSummary",
    "DatasetWriter",
    "EpisodeArrays",
    "LocomotionResult",
    "MLPPolicy",
    "MazeGeometry",
    "ReferenceScore",
    "WindowDataset",
    "generate_locomotion",
    "generate_pointmaze",
    "list_local_datasets",
    "load_dataset",
    "locomotion_dataset_id",
    "make_transitions",
    "make_windows",
    "normalized_score",
    "pointmaze_dataset_id",
    "reference_score",
    "summarize",
]
