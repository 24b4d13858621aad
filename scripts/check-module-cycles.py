#!/usr/bin/env python3
"""Fails when a module of a crate under shared/ imports a module that imports it back, directly or
through others. Cargo already forbids cycles between crates (core <- aws <- functions, cli); this
holds the modules inside each crate to the same rule. Comments and #[cfg(test)] modules are
ignored; a module's own submodules and parent do not count.

Usage: scripts/check-module-cycles.py [CRATE_SRC ...]   (default: shared/core/src shared/aws/src)
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def module_name(root: pathlib.Path, path: pathlib.Path) -> list[str]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return parts


def references(path: pathlib.Path, parts: list[str], is_mod: bool) -> set[str]:
    text = path.read_text().split("#[cfg(test)]")[0]
    text = re.sub(r"//[^\n]*", "", text)
    refs = {m.group(1) for m in re.finditer(r"crate::([a-z_]+(?:::[a-z_]+)*)", text)}
    parent = parts if is_mod else parts[:-1]
    refs |= {"::".join(parent + [m.group(1)]) for m in re.finditer(r"\bsuper::([a-z_]+)", text)}
    return refs


def cycles(root: pathlib.Path) -> list[list[str]]:
    modules = {}
    for path in sorted(root.rglob("*.rs")):
        parts = module_name(root, path)
        modules["::".join(parts)] = references(path, parts, path.stem == "mod")
    names = set(modules)

    def resolve(ref: str):
        p = ref.split("::")
        for i in range(len(p), 0, -1):
            if "::".join(p[:i]) in names:
                return "::".join(p[:i])
        return None

    edges = {}
    for name, refs in modules.items():
        targets = {resolve(r) for r in refs} - {None, name}
        # A path through a facade (`crate::alarm::Level`, re-exported from `alarm::level`)
        # reaches into the facade's submodules too.
        reached = set()
        for t in targets:
            reached |= {n for n in names if n == t or n.startswith(t + "::")}
        edges[name] = {
            t for t in reached if not (t.startswith(name + "::") or name.startswith(t + "::") or t == name)
        }
    found, state = [], {}

    def visit(u, stack):
        state[u] = "open"
        stack.append(u)
        for v in sorted(edges.get(u, ())):
            if state.get(v) == "open":
                found.append(stack[stack.index(v):] + [v])
            elif v not in state:
                visit(v, stack)
        stack.pop()
        state[u] = "done"

    for u in sorted(edges):
        if u not in state:
            visit(u, [])
    return found


def main() -> int:
    roots = [pathlib.Path(a) for a in sys.argv[1:]] or [ROOT / "shared/core/src", ROOT / "shared/aws/src"]
    status = 0
    for root in roots:
        found = cycles(root)
        for cycle in found:
            print(f"{root}: module cycle: {' -> '.join(cycle)}")
            status = 1
        if not found:
            print(f"{root}: no module cycles")
    return status


if __name__ == "__main__":
    sys.exit(main())
