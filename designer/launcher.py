"""Entry point of the ``netwright`` console script.

``netwright validate|summary|train|export ...`` runs the headless command line (runtime.cli),
which never imports Qt; ``netwright [FILE]`` opens the designer.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from runtime.cli import COMMANDS
    from runtime.cli import main as cli_main

    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help")):
        return cli_main(argv)
    from designer.app import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main())
