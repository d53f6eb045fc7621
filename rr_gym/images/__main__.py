"""``python -m rr_gym.images``: see :mod:`rr_gym.images.cli`."""

import sys

from rr_gym.images.cli import main

if __name__ == "__main__":
    sys.exit(main())
