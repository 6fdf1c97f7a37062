"""The command line: ``tmaxedge`` and ``python -m tmaxedge``."""
