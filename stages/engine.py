"""Stage `engine`: one fingerprint of the library code that the per-window stages run.

DVC rewrites dvc.lock after every stage, and the time that takes grows with the file's length.
When each tune, calibrate and evaluate stage of every window lists the engine's modules itself,
most of the lock is those lists, repeated 36 times on the default and about 500 times at full
scale. This stage lists them once; the per-window stages depend on its fingerprint, which
changes exactly when one of the modules does. So a code change still reruns every window, and
nothing else does.
"""

import argparse
import hashlib
from pathlib import Path

from tmaxedge import io


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="the fingerprint (JSON)")
    parser.add_argument("modules", type=Path, nargs="+", help="the engine's source files")
    args = parser.parse_args()
    fingerprint = {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(args.modules)}
    io.write_json_atomic({"modules": fingerprint}, args.out)


if __name__ == "__main__":
    main()
