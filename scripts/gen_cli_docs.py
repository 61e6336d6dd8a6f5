"""Render docs/cli.md from the click commands themselves, so the docs cannot drift.

Run `python scripts/gen_cli_docs.py` after changing a command; a test fails when the
file is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

OUT = Path(__file__).resolve().parents[1] / "docs" / "cli.md"

HEADER = """# Command line reference

Generated from the commands by `scripts/gen_cli_docs.py`; do not edit by hand.
Global options go before the command: `optimizer --db URL --json status`.
Exit codes are listed in the README.
"""


def _walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            found.extend(_walk(command.commands[name], [*path, name]))
    return found


def render() -> str:
    from optimizer.cli import cli

    parts = [HEADER]
    for path, command in _walk(cli, ["optimizer"]):
        with click.Context(
            command,
            info_name=" ".join(path),
            terminal_width=100,
            max_content_width=100,
            help_option_names=["-h", "--help"],
        ) as ctx:
            text = command.get_help(ctx)
        level = "#" * min(len(path) + 1, 4)
        parts.append(f"{level} `{' '.join(path)}`\n\n```text\n{text}\n```\n")
    return "\n".join(parts)


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        current = OUT.read_text() if OUT.exists() else ""
        if current != text:
            print("docs/cli.md is out of date: run python scripts/gen_cli_docs.py")
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
