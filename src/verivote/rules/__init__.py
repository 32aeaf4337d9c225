"""The counting law: counting methods as pure functions over ballots or tallies (DESIGN.md)."""
