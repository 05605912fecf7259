"""``sleep``: sleep a number of seconds, then write how long it slept."""

from __future__ import annotations

import sys
import time


def main(argv: list[str]) -> int:
    """``sleep SECONDS OUTPUT_FILE``."""
    if len(argv) != 2:
        print("usage: sleep SECONDS OUTPUT_FILE", file=sys.stderr)
        return 2
    seconds = float(argv[0])
    print(f"sleeping {seconds} s", flush=True)
    time.sleep(max(0.0, seconds))
    with open(argv[1], "w", encoding="utf-8") as handle:
        handle.write(f"slept {seconds} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
