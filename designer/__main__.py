"""``python -m designer [FILE]`` opens the designer."""

from __future__ import annotations

import sys

from designer.app import run_app

if __name__ == "__main__":
    sys.exit(run_app(sys.argv[1:]))
