"""The crate's module import graph from `use crate::...` and `crate::x::` paths: prints each
module's imports and every cycle between top-level modules (strongly connected components of
more than one module). Exit 1 when there is a cycle not listed as an allowed exception.

Also exit 1 when a stage imports a writer or a run mode (STAGES may not import WRITERS).

usage: python3 scripts/import-graph.py [--allow a+b,...] [--dot]"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The workspace's crates: the lower ones (domain types, the language model) and the app crate.
SRCS = [ROOT / "crates" / c / "src" for c in ("domain", "ml", "core", "io")] + [ROOT / "src"]


def module_of(path: Path, src: Path) -> str:
    rel = path.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "mod":
        parts = parts[:-1]
    return parts[0] if parts else "lib"


# The stages of the data flow and the domain types beneath them ...
STAGES = ["model", "row", "signals", "diagnostics", "context", "encoder", "heads", "ingest", "assemble", "enrich",
          "features", "link", "score", "aggregate", "qa", "voc"]
# ... never import what writes outputs or runs the stages.
WRITERS = ["write", "manifest", "store", "pipeline", "partition", "spill", "report", "summary"]


def module_exists(name: str) -> bool:
    return any((src / f"{name}.rs").exists() or (src / name / "mod.rs").exists() for src in SRCS)


def graph():
    edges = {}
    files = [(f, src) for src in SRCS for f in sorted(src.rglob("*.rs"))]
    for f, src in files:
        me = module_of(f, src)
        if me in ("lib", "main", "cli", "error"):
            continue
        text = f.read_text()
        # Test modules may reach anywhere: only the code a build ships counts.
        text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
        deps = set(re.findall(r"\b(?:crate|convoqa_domain|convoqa_ml|convoqa_core|convoqa_io)::([a-z_][a-z0-9_]*)", text))
        for block in re.findall(r"use crate::\{([^;]*)\};", text, flags=re.S):
            deps.update(re.findall(r"(?:^|[,{\s])([a-z_][a-z0-9_]*)::", block))
            deps.update(x.strip() for x in block.split(",") if re.fullmatch(r"\s*[a-z_][a-z0-9_]*\s*", x))
        deps.discard(me)
        deps = {d for d in deps if module_exists(d)}
        edges.setdefault(me, set()).update(deps)
    return edges


def sccs(edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


def main():
    edges = graph()
    if "--dot" in sys.argv:
        print("digraph convoqa {")
        for a in sorted(edges):
            for b in sorted(edges[a]):
                print(f'  "{a}" -> "{b}";')
        print("}")
        return 0
    allowed = set()
    if "--allow" in sys.argv:
        allowed = {tuple(sorted(x.split("+"))) for x in sys.argv[sys.argv.index("--allow") + 1].split(",")}
    for a in sorted(edges):
        print(f"{a:20} -> {', '.join(sorted(edges[a])) or '-'}")
    cycles = sccs(edges)
    bad = [c for c in cycles if tuple(c) not in allowed]
    for c in cycles:
        print(("allowed cycle: " if tuple(c) in allowed else "CYCLE: ") + " <-> ".join(c))
    if not cycles:
        print("no cycles between modules")
    upward = [(a, b) for a in STAGES for b in sorted(edges.get(a, ())) if b in WRITERS]
    for a, b in upward:
        print(f"STAGE IMPORTS A WRITER: {a} -> {b}")
    return 1 if bad or upward else 0


sys.exit(main())
