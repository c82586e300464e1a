#!/usr/bin/env python3
"""Fails when a file of src/ grows past 800 lines of code, or lib.rs past 60 lines
(issue 12: one house a newcomer can walk). Lines of code: every line, blank lines and
comments included, before the file's `#[cfg(test)] mod tests` (tests beside code are
excepted). Blank lines count so that the number is the one an editor shows.

Standard library only. Usage: scripts/check_sizes.py [path to the crate root]
"""

import re
import sys
from pathlib import Path

MAX_CODE_LINES = 800
MAX_LIB_LINES = 60
TESTS = re.compile(r"#\[cfg\(test\)\]\s*\n\s*mod tests\b")


def code_lines(text: str) -> int:
    m = TESTS.search(text)
    if m:
        text = text[: m.start()]
    return len(text.splitlines())


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    bad = []
    sizes = []
    for path in sorted((root / "src").rglob("*.rs")):
        n = code_lines(path.read_text())
        sizes.append((n, path.relative_to(root)))
        if n > MAX_CODE_LINES:
            bad.append(f"{path.relative_to(root)}: {n} lines of code (at most {MAX_CODE_LINES}): split it by concern")
    lib = root / "src" / "lib.rs"
    n_lib = len(lib.read_text().splitlines())
    if n_lib > MAX_LIB_LINES:
        bad.append(f"src/lib.rs: {n_lib} lines (at most {MAX_LIB_LINES}): lib.rs only declares modules")
    largest = max(sizes)
    for line in bad:
        print(f"check_sizes: {line}", file=sys.stderr)
    print(f"check_sizes: {len(sizes)} files, largest {largest[1]} ({largest[0]} lines of code), lib.rs {n_lib} lines"
          + ("" if not bad else f"; {len(bad)} over the limit"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
