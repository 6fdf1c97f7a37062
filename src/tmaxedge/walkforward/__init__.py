"""The walk-forward plan and the per-window steps (tune, calibrate, evaluate) that the stages and run_window run."""
