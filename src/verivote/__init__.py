"""verivote: a parliamentary election that anyone can check, end to end."""

__version__ = "0.1.0"
