"""Summaries across windows and the report."""
