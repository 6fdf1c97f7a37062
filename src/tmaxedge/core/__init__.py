"""The bottom layer: errors, parameter files and atomic I/O, cities, the YES rule, probability
scores."""
