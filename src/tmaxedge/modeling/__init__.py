"""Models of P(YES): the logistic solver, model cards, tuning, calibration, the market blend,
coherence, tmax_dist, scores."""
