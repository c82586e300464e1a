#!/usr/bin/env python3
"""Prints which top-level modules of src/ each top-level module uses, and exits 1 when
they import each other in a circle (issue 12): the module graph must stay a DAG.

An edge `a -> b` is any `crate::b` path (in `use`, `pub use` or inline) or `super::b`
that reaches the crate root, in the non-test code of `a` (the file `src/a.rs` or
`src/a/mod.rs` and its `mod x;` children). Left out: comments (so doc links do not
count), string and char literals, and every item under `#[cfg(test)]` (test modules,
`#[cfg(test)] mod test_support;` files). `crate::Name` for an item re-exported at the
crate root (`pub use artifact::ModelFile;`, `pub(crate) use ...` in lib.rs) counts as
its module.

Standard library only. Usage: scripts/check_imports.py [path to the crate root]
"""

import re
import sys
from pathlib import Path

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
CFG_TEST = re.compile(r"#\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]")
MOD_DECL = re.compile(rf"\b(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+({IDENT})\s*;")


def strip_comments_and_literals(text: str) -> str:
    """The code with comments removed and string/char literals emptied."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            out.append(" ")
        elif (m := re.match(r'b?r(#*)"', text[i:])) and (i == 0 or not re.match(r"\w", text[i - 1])):
            close = '"' + m.group(1)
            j = text.find(close, i + m.end())
            i = n if j < 0 else j + len(close)
            out.append('""')
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'":
            # A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            if i + 1 < n and text[i + 1] == "\\":
                j = text.find("'", i + 2)
                i = n if j < 0 else j + 1
                out.append("' '")
            elif i + 2 < n and text[i + 2] == "'":
                i += 3
                out.append("' '")
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def item_end(code: str, start: int) -> int:
    """End of the item that begins at `start`: its `;` or its matching `}`."""
    depth = 0
    i = start
    while i < len(code):
        ch = code[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        elif ch == ";" and depth == 0:
            return i + 1
        i += 1
    return len(code)


def remove_test_items(code: str) -> tuple[str, set[str]]:
    """The code without `#[cfg(test)]` items, and the names of test-only `mod x;` files."""
    test_mods = set()
    while m := CFG_TEST.search(code):
        end = item_end(code, m.end())
        decl = MOD_DECL.search(code[m.end() : end])
        if decl and code[m.end() : end].rstrip().endswith(";"):
            test_mods.add(decl.group(1))
        code = code[: m.start()] + " " + code[end:]
    return code, test_mods


def child_file(parent: Path, name: str) -> Path | None:
    """The file of `mod name;` declared in `parent` (`a/mod.rs` and `a.rs` both own `a/`)."""
    base = parent.parent if parent.name == "mod.rs" else parent.with_suffix("")
    for cand in (base / f"{name}.rs", base / name / "mod.rs"):
        if cand.exists():
            return cand
    return None


def module_files(src: Path, top: str) -> list[tuple[Path, list[str], str]]:
    """(file, module path, non-test code) for every file of a top-level module."""
    first = src / f"{top}.rs"
    if not first.exists():
        first = src / top / "mod.rs"
    out = []
    todo = [(first, [top])]
    while todo:
        path, modpath = todo.pop()
        code, test_mods = remove_test_items(strip_comments_and_literals(path.read_text()))
        out.append((path, modpath, code))
        for name in MOD_DECL.findall(code):
            if name in test_mods:
                continue
            f = child_file(path, name)
            if f is None:
                raise SystemExit(f"check_imports: cannot find the file of `mod {name};` in {path}")
            todo.append((f, modpath + [name]))
    return out


def group_heads(code: str, start: int) -> list[str]:
    """First path segment of each entry of the `{...}` group that opens at `start`."""
    end = item_end(code, start)
    inner = code[start + 1 : end - 1]
    heads, depth, cur = [], 0, []
    for ch in inner + ",":
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            entry = "".join(cur).strip()
            if m := re.match(IDENT, entry):
                heads.append(m.group(0))
            cur = []
        else:
            cur.append(ch)
    return heads


def root_names(code: str, start: int) -> list[str]:
    """The crate-root names a path reaches from position `start` (after `crate::`)."""
    rest = code[start:].lstrip()
    if rest.startswith("{"):
        return group_heads(code, start + (len(code[start:]) - len(rest)))
    m = re.match(IDENT, rest)
    return [m.group(0)] if m else []


def uses_of(code: str, modpath: list[str]) -> set[str]:
    names = set()
    for m in re.finditer(r"(?<![A-Za-z0-9_$])crate\s*::\s*", code):
        names.update(root_names(code, m.end()))
    # `super::` chains that climb to the crate root (`super` of `a` or `a/mod.rs`).
    for m in re.finditer(r"(?<![A-Za-z0-9_:])((?:super\s*::\s*)+)", code):
        if m.group(1).count("super") == len(modpath):
            names.update(root_names(code, m.end()))
    return names


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    src = root / "src"
    lib = strip_comments_and_literals((src / "lib.rs").read_text())
    lib, _ = remove_test_items(lib)
    modules = sorted(MOD_DECL.findall(lib))
    # Items re-exported at the crate root: `pub use m::{A, B};` / `pub(crate) use m::A;`.
    reexport = {}
    for m in re.finditer(rf"\bpub(?:\s*\([^)]*\))?\s+use\s+(?:crate\s*::\s*)?({IDENT})\s*::\s*([^;]*);", lib):
        body = m.group(2).strip().strip("{}")
        for entry in body.split(","):
            words = re.findall(IDENT, entry)
            if words and words[-1] != "self":
                reexport[words[-1]] = m.group(1)
    graph = {}
    unknown = []
    for top in modules:
        deps = set()
        for path, modpath, code in module_files(src, top):
            for name in uses_of(code, modpath):
                target = name if name in modules else reexport.get(name)
                if target is None:
                    unknown.append(f"{path.relative_to(root)}: crate::{name}")
                elif target != top:
                    deps.add(target)
        graph[top] = sorted(deps)

    for top in modules:
        print(f"{top} -> {', '.join(graph[top]) if graph[top] else '(none)'}")
    for u in unknown:
        print(f"check_imports: cannot resolve {u}", file=sys.stderr)

    # Tarjan's strongly connected components.
    index, low, on_stack, stack, sccs = {}, {}, set(), [], []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            sccs.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in modules:
        if v not in index:
            visit(v)
    cycles = [c for c in sccs if len(c) > 1]
    if cycles or unknown:
        for c in cycles:
            print(f"check_imports: import circle among {{{', '.join(c)}}}", file=sys.stderr)
        return 1
    print(f"check_imports: {len(modules)} top-level modules, no import circle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
