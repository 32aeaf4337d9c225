"""The `verivote` command (typer + rich)."""
