"""`anymo-sim placements ...`: list, show and export placements on a body."""

from __future__ import annotations

import typer

app = typer.Typer(help="Where devices sit on the body: list, show (HTML + PNG), export (PLY/GLB, CSV/JSON).",
                  no_args_is_help=True)
