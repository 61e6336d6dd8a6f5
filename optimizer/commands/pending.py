"""Entry points whose stages land in later issues: they say so and exit 69.

They never print made-up output. Each names the issue that builds it.
"""

from __future__ import annotations

import click

from store.errors import StageNotBuilt

PENDING: dict[str, tuple[str, str]] = {}  # every entry point is built


def _make(name: str, what: str, issue: str) -> click.Command:
    @click.command(
        name=name,
        help=f"{what[0].upper()}{what[1:]}. Not built yet (issue {issue}).",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=True,
    )
    def command() -> None:
        raise StageNotBuilt(
            f"`optimizer {name}` ({what}) is not built yet",
            fix=f"it arrives with issue {issue}; until then use `optimizer status` to see "
            "what the store holds",
        )

    return command


COMMANDS = [_make(name, what, issue) for name, (what, issue) in PENDING.items()]
