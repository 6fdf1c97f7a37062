"""Stage `step_params`: the params.yaml keys each per-window step reads, one file per step
(``tmaxedge.core.params.STEP_KEYS``).

Every tune, calibrate and evaluate stage of every window would otherwise list those keys as its
DVC params: DVC then parses params.yaml again for each such stage on every `dvc status` and
`dvc repro`, and copies the keys' values into each stage's entry in dvc.lock (about a quarter of
a no-op's time and most of the lock's length at 84 windows). Here they are read once; each
per-window stage depends on its step's file, which changes exactly when one of its keys does.
So `dvc exp run -S tune.ridge.c_max=...` reruns this stage and every window's tune stage, and a
change to `coherence` reruns only the evaluate stages, as when the keys were listed per stage.
"""

import argparse
from pathlib import Path

import yaml

from tmaxedge.core import io
from tmaxedge.core.failures import run_stage
from tmaxedge.core.params import STEP_KEYS, check_params_file, step_part


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="the folder of <step>.yaml files")
    args = parser.parse_args()
    io.configure_logging()
    content = check_params_file(io.PARAMS_FILE)
    with io.atomic_directory(args.out) as tmp:
        for step in STEP_KEYS:
            part = step_part(content, step, io.PARAMS_FILE)
            (tmp / f"{step}.yaml").write_text(yaml.safe_dump(part, sort_keys=False))


if __name__ == "__main__":
    run_stage(main)
