"""Synthetic elections of any size, reproducible from a seed (DESIGN.md, package `sim`)."""
