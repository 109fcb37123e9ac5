"""swapcheck: evidence before a model cutover, from your own production traffic."""

__version__ = "0.1.0"
