"""``relaydesk routing fit``: refit the value model from resolved journeys with outcomes."""

from __future__ import annotations

from typing import Annotated

import typer
import yaml

routing_app = typer.Typer(help="Value-based routing.", no_args_is_help=True)


@routing_app.command("fit")
def fit_command(
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", envvar="RELAYDESK_DATABASE_URL", show_default=False),
    ] = None,
    min_samples: Annotated[int, typer.Option(min=20, help="Fewer journeys: refuse")] = 200,
    apply: Annotated[bool, typer.Option("--apply", help="Store the new coefficients")] = False,
) -> None:
    """Print refitted coefficients (YAML for routing.coefficients); --apply stores them."""
    from relaydesk.cli import fail, load_settings, migrate_or_fail, run
    from relaydesk.hub import Hub
    from relaydesk.routing.actions.settings import store_coefficients
    from relaydesk.routing.fit import NotEnoughData, fit, training_samples
    from relaydesk.routing.queries import load_context

    settings = load_settings(database_url)
    migrate_or_fail(settings)  # like every command: a fresh database works too

    async def main() -> None:
        hub = Hub.from_settings(settings)
        try:
            async with hub.db.read() as session:
                samples = await training_samples(session)
                current = (await load_context(session)).config.coefficients
            try:
                result = fit(samples, current, min_samples=min_samples)
            except NotEnoughData as exc:
                raise fail(f"not enough data to refit: {exc}") from None
            typer.echo(
                f"# {result.samples} journeys: {result.purchases} purchases, "
                f"{result.churns} churns"
                + (f"; clipped at 0: {', '.join(result.clipped)}" if result.clipped else "")
            )
            typer.echo(yaml.safe_dump({"coefficients": result.coefficients.model_dump()}))
            if apply:
                used = await hub.db.transaction(
                    lambda s: store_coefficients(s, result.coefficients)
                )
                typer.echo(
                    "# stored: routing uses these coefficients from now on"
                    if used
                    else "# stored, but the workspace file declares routing.coefficients, "
                    "which take precedence: put these in the file to use them"
                )
        finally:
            await hub.close()

    run(main)
