"""`python -m verivote` is the `verivote` command."""

from verivote.cli.launch import main

main()
