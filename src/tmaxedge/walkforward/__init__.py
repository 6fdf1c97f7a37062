"""Walk-forward: the plan of windows, and each window's three steps for every group.

``windows`` (the plan; a window's fit / calibration / test rows) → ``tune`` → ``calibrate``
(holdout or ``crossfit``) → ``evaluate``. The DVC stages run one step each, with their files
between them (``artifacts``); ``run.run_window`` runs the same three in memory. ``compute`` says
where a step's jobs run; ``groups`` and ``predict`` are what the steps share. The fitting itself
lives in ``tmaxedge.modeling`` (the calibrator: ``calibration``; the market weight w: ``pooling``).
"""
