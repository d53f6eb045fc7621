"""``python -m rr_gym.data``: see :mod:`rr_gym.data.cli`."""

import sys

from rr_gym.data.cli import main

if __name__ == "__main__":
    sys.exit(main())
