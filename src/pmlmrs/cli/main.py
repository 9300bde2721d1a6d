"""Entry point of the ``pmlmrs`` command: imports every subcommand module, then runs the app."""

from __future__ import annotations

from pmlmrs.cli._common import app

# Each module registers its subcommands on ``app`` at import.
from pmlmrs.cli import info_cmd  # noqa: E402,F401
from pmlmrs.cli import fit_cmd  # noqa: F401
from pmlmrs.cli import basis_cmd  # noqa: F401
from pmlmrs.cli import run_cmd  # noqa: F401
from pmlmrs.cli import demo_cmd  # noqa: F401
from pmlmrs.cli import import_cmd  # noqa: F401
from pmlmrs.cli import preprocess_cmd  # noqa: F401

__all__ = ["app", "main"]


def main() -> None:
    """Run the command line."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
