"""``python -m openturk``: the same command line as the ``openturk`` script."""

from __future__ import annotations

from openturk.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
