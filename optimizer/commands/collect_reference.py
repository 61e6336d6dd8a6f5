"""`optimizer collect reference`: the shipped public reference facts into the store."""

from __future__ import annotations

import click

from optimizer.commands.collect import collect
from optimizer.context import AppContext, pass_app


@collect.command("reference")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON on stdout.")
@pass_app
def collect_reference(app: AppContext, as_json: bool) -> None:
    """Load region locations, measured inter-region latency, egress prices and storage
    tier facts from the public snapshot shipped with optimizer, and list prices for the
    offers no collector has priced yet (a live catalog price is never replaced).

    The nightly run does this by itself when the store has no region facts; run it again
    after upgrading optimizer to refresh the facts. Sources: optimizer/demo/snapshot/NOTICE.md.
    """
    from optimizer.reference import load_reference

    app.json_output = app.json_output or as_json
    counts = load_reference(app.engine())
    if app.json_output:
        app.emit_json(counts)
        return
    app.out.print(
        "reference: "
        + ", ".join(
            f"{table} {n:,}" for table, n in counts.items() if table != "price_offer"
        ).replace("price_offer_already_priced", "offers already priced (kept)")
        + f", new list-price offers {counts['price_offer']:,}"
    )


COMMANDS: list[click.Command] = []  # attaches to `collect` on import
