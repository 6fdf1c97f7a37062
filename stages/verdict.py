"""Stage `verdict`: fail the run (exit 1) when a model type fails an enforced release gate.

Reads metrics/gate.json and params.yaml `gate.enforce`. The pipeline's last stage, so metrics
and the report explaining a failure are written before `dvc repro` exits non-zero.
"""

import argparse
import sys
from pathlib import Path

from tmaxedge.core import io
from tmaxedge.core.failures import run_stage
from tmaxedge.decision import gates as gate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("gate_metrics", type=Path, help="metrics/gate.json")
    args = parser.parse_args()
    params = io.load_params("gate", gate.GateParams)
    flat = io.read_json(args.gate_metrics)
    failures = gate.failed_checks(flat)
    lines = [f"gate failed: {model} {check} — {message}" for model, check, message in failures]
    if not flat:
        lines = [f"gate failed: {args.gate_metrics} holds no model types"]
    if lines and params.enforce:
        print("\n".join(lines), file=sys.stderr)
        sys.exit(1)
    if lines:
        print(
            "\n".join(line.replace("gate failed:", "gate would fail:", 1) for line in lines),
            file=sys.stderr,
        )
        print(
            f"gate not enforced (gate.enforce is false): {len(lines)} failed check(s) "
            f"ignored; models: {', '.join(sorted(flat))}"
        )
        return
    print(f"gate passed: {', '.join(sorted(flat))} pass all {len(gate.ENFORCED_CHECKS)} checks")


if __name__ == "__main__":
    run_stage(main)
