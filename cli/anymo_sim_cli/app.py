import typer

app = typer.Typer(help="anymo-sim: simulated wearable IMUs anywhere on a moving body.")


@app.command()
def info() -> None:
    """Show the build: backends and version."""
    import anymo_sim

    print(anymo_sim.__version__, anymo_sim.available_backends())


def main() -> None:
    app()
