"""``echo``: write the message (one argv entry, never interpreted) to the result file."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """``echo OUTPUT_FILE MESSAGE``."""
    if len(argv) != 2:
        print("usage: echo OUTPUT_FILE MESSAGE", file=sys.stderr)
        return 2
    output, message = argv
    with open(output, "w", encoding="utf-8") as handle:
        handle.write(message)
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
