"""The `anymo-sim` command-line application (Typer + rich)."""
