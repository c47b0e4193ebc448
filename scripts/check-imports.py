#!/usr/bin/env python3
"""Checks that the crate's imports run one way (docs/architecture.md).

Reads every `crate::...` and `super::...` path in src/ (use lines and paths
written inline), resolves each to the module that defines it, and reports:
  * circles between modules (a module and its submodules count as one where
    they share a folder: server/store/*.rs is `server::store`),
  * imports that break a layer rule, such as `model` importing the crate or
    anything but the service reaching the store.
Prints the module graph with --graph. Exits 1 when a rule is broken.
"""
import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

# Folders whose files form one unit: circles inside a unit are its own affair.
UNITS = ["server::store", "server::webhook", "server::rest", "server::service",
         "server::domain", "testkit", "model", "api", "app"]

# (unit, units it may import). A unit not listed may import anything that
# keeps the graph free of circles.
RULES = {
    "model": set(),
    "server::domain": {"model"},
    "server::store": {"model", "server::domain"},
}
# Only these units may reach the store: the service and the process wiring.
STORE_USERS = {"server::service", "server::app", "server::store"}


def module_of(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return "::".join(parts)


def unit_of(module: str) -> str:
    for unit in UNITS:
        if module == unit or module.startswith(unit + "::"):
            return unit
    # server::x::y -> server::x ; top-level files are their own unit.
    parts = module.split("::")
    return "::".join(parts[:2]) if parts[0] == "server" else parts[0]


def strip_comments(text: str) -> str:
    # Unit tests sit at the end of a file, where `super` is the file itself.
    text = text.split("#[cfg(test)]\nmod tests", 1)[0]
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def expand(prefix: str, body: str):
    """Expands `a::{b, c::{d, e}}` into full paths."""
    depth, start, items = 0, 0, []
    for i, ch in enumerate(body):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(body[start:i])
            start = i + 1
    items.append(body[start:])
    for item in items:
        item = item.strip()
        if not item:
            continue
        m = re.match(r"^([\w:]*?)(?:::)?\{(.*)\}$", item, re.S)
        if m:
            inner = prefix + ("::" + m.group(1) if m.group(1) else "")
            yield from expand(inner, m.group(2))
        else:
            yield prefix + "::" + item.split(" as ")[0].strip()


def referenced_paths(module: str, text: str):
    code = strip_comments(text)
    for m in re.finditer(r"\b(crate|super)((?:::\w+)*)::\{", code):
        # A grouped use: find the matching brace.
        depth, i = 0, m.end() - 1
        while i < len(code):
            depth += {"{": 1, "}": -1}.get(code[i], 0)
            if depth == 0:
                break
            i += 1
        yield from (absolute(module, p) for p in expand(m.group(1) + m.group(2), code[m.end():i]))
    # A path written out in full (the head of a grouped use is read above).
    for m in re.finditer(r"\b(crate|super)((?:::\w+)+)\b(?!::)", code):
        yield absolute(module, m.group(1) + m.group(2))


def absolute(module: str, path: str) -> str:
    parts = path.split("::")
    if parts[0] == "crate":
        return "::".join(parts[1:])
    base = module.split("::")
    while parts and parts[0] == "super":
        parts = parts[1:]
        base = base[:-1]
    return "::".join(base + parts)


def main() -> int:
    files = sorted(SRC.rglob("*.rs"))
    modules = {module_of(f) for f in files}
    edges = {}
    for f in files:
        source = module_of(f)
        for path in referenced_paths(source, f.read_text()):
            parts = path.split("::")
            target = next(("::".join(parts[:n]) for n in range(len(parts), 0, -1)
                           if "::".join(parts[:n]) in modules), None)
            if target is None or unit_of(target) == unit_of(source):
                continue
            edges.setdefault(unit_of(source), set()).add(unit_of(target))
    problems = []
    for unit, allowed in RULES.items():
        for target in sorted(edges.get(unit, set()) - allowed):
            problems.append(f"{unit} imports {target} (it may import only {sorted(allowed) or 'nothing of the crate'})")
    for unit, targets in sorted(edges.items()):
        if "server::store" in targets and unit not in STORE_USERS:
            problems.append(f"{unit} reaches the store (only the service may)")
    for circle in circles(edges):
        problems.append("circle: " + " -> ".join(circle + [circle[0]]))
    if "--graph" in sys.argv:
        for unit, targets in sorted(edges.items()):
            print(f"{unit} -> {', '.join(sorted(targets))}")
    for problem in problems:
        print(problem)
    if not problems:
        print(f"imports run one way: {len(edges)} units, no circles, every layer rule kept")
    return 1 if problems else 0


def circles(edges):
    """Strongly connected components of more than one unit (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


if __name__ == "__main__":
    sys.exit(main())
