"""The feature table: one row per market and decision minute, and the feature groups models
draw on."""
