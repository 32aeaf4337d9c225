"""Data models of verivote: ballots, contests and results (DESIGN.md, package `model`)."""
