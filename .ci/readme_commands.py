"""Print one of the README's two opening commands, as written there.

``.ci/run`` runs them from here, so CI runs exactly what a newcomer types: the first ```bash
block of README.md installs and runs the pipeline, the second installs and runs the tests.
Standard library only: it runs before any environment exists.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
WHICH = {"run": 0, "test": 1}
_BLOCK = re.compile(r"^```bash\n(.*?)\n```$", re.MULTILINE | re.DOTALL)


def readme_commands(text: str) -> list[str]:
    """The first two bash blocks, each of which must be a single command line."""
    blocks = [block.strip() for block in _BLOCK.findall(text)[:2]]
    if len(blocks) < 2 or any("\n" in block for block in blocks):
        raise SystemExit("README.md must open with two one-line ```bash blocks (run, tests)")
    return blocks


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in WHICH:
        raise SystemExit(f"usage: {sys.argv[0]} run|test")
    print(readme_commands(README.read_text(encoding="utf-8"))[WHICH[sys.argv[1]]])
