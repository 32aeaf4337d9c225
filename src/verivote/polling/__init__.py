"""Polling day: the voter roll, check-in, stations (DESIGN.md, package `polling`)."""
