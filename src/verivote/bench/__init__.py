"""Benchmark code behind `verivote bench` that is more than a few lines (issue 16: `mix`)."""
