"""`python -m verivote` is the `verivote` command."""

from verivote.cli.app import main

main()
