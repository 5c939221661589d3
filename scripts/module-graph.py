#!/usr/bin/env python3
"""Prints each crate's module graph (which module uses which) and fails on a cycle.

Edges come from `use crate::…`, `crate::…::` paths, `super::…` and `self::` paths in each
`src/**/*.rs` file; a module is named by its path under `src` (`server/http`). Run by
scripts/test.sh; docs/ARCHITECTURE.md shows its output for the service.
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_of(src: Path, file: Path) -> str:
    rel = file.relative_to(src).with_suffix("").as_posix()
    if rel in ("lib", "main"):
        return "crate"
    return rel[: -len("/mod")] if rel.endswith("/mod") else rel


def strip_comments(text: str) -> str:
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def without_tests(text: str) -> str:
    """Drops `#[cfg(test)] mod tests { ... }` blocks: test code may use anything."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def edges(src: Path) -> dict[str, set[str]]:
    modules = {module_of(src, f) for f in src.rglob("*.rs")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for f in src.rglob("*.rs"):
        me = module_of(src, f)
        text = without_tests(strip_comments(f.read_text()))
        parent = me.rsplit("/", 1)[0] if "/" in me else "crate"
        refs = []
        for m in re.finditer(r"\bcrate::((?:\w+::)*\w+)", text):
            refs.append(m.group(1).split("::"))
        for m in re.finditer(r"\bsuper::((?:\w+::)*\w+)", text):
            base = [] if parent == "crate" else parent.split("/")
            refs.append(base + m.group(1).split("::"))
        # `use super::{a, b}` and `use crate::{a, b}` groups
        for m in re.finditer(r"\b(crate|super)::\{([^}]*)\}", text):
            base = [] if m.group(1) == "crate" or parent == "crate" else parent.split("/")
            for item in m.group(2).split(","):
                item = item.strip().split(" ")[0]
                if item:
                    refs.append(base + item.split("::"))
        for parts in refs:
            # the longest prefix that names a module
            target = None
            for n in range(len(parts), 0, -1):
                cand = "/".join(parts[:n])
                if cand in modules:
                    target = cand
                    break
            if target is None:
                target = "crate" if parent == "crate" or not refs else parent
            if target != me and not me.startswith(target + "/"):
                graph[me].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                found.append(stack[stack.index(m) :] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    return found


def main() -> int:
    bad = False
    for src in sorted(ROOT.glob("crates/*/src")):
        graph = edges(src)
        crate = src.parent.name
        if "-q" not in sys.argv:
            print(f"## {crate}")
            for n in sorted(graph):
                uses = sorted(t for t in graph[n] if t != "crate")
                if n != "crate" and uses:
                    print(f"  {n} → {', '.join(uses)}")
        for c in cycles({n: {t for t in ts if t != "crate"} for n, ts in graph.items()}):
            bad = True
            print(f"cycle in {crate}: {' → '.join(c)}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
