"""``python -m tmaxedge``: the same command line as ``tmaxedge``."""

from tmaxedge.cli.main import main

if __name__ == "__main__":
    main()
