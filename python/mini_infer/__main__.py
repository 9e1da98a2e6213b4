"""python -m mini_infer plan|run|solve ...: the mini-infer command line, as installed with the package."""

import os
import sys


def main() -> int:
    cli = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mini-infer")
    if not os.access(cli, os.X_OK):
        print(f"mini_infer: the command line is not in the package ({cli})", file=sys.stderr)
        return 2
    os.execv(cli, [cli] + sys.argv[1:])
    return 2  # not reached


if __name__ == "__main__":
    sys.exit(main())
