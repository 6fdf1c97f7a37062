"""tmaxedge: walk-forward pricing of Kalshi daily-high-temperature markets."""

__version__ = "0.1.0"
