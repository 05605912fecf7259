"""``wordcount``: count the words of a text file; also report them in seed.outputs.json."""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    """``wordcount INPUT_FILE OUTPUT_DIR``."""
    if len(argv) != 2:
        print("usage: wordcount INPUT_FILE OUTPUT_DIR", file=sys.stderr)
        return 2
    try:
        with open(argv[0], encoding="utf-8") as handle:
            words = sum(len(line.split()) for line in handle)
    except UnicodeDecodeError:
        print(f"{argv[0]}: not UTF-8 text", file=sys.stderr)
        return 3
    with open(os.path.join(argv[1], "result.txt"), "w", encoding="utf-8") as handle:
        handle.write(f"{words}\n")
    with open(os.path.join(argv[1], "seed.outputs.json"), "w", encoding="utf-8") as handle:
        json.dump({"words": words}, handle)
    print(f"{words} words")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
