"""CLI commands, one module per stage or concern; each exports COMMANDS."""
