"""enformer-lite: Enformer-style sequence-to-function models, end to end."""

__version__ = "0.1.0"
