#!/usr/bin/python3
"""callgraph.py DIR: the cycles in the graph of DIR/*.c, where a file
points to each file that defines an rs_ function it calls (a definition:
a function not declared static, its body's brace on the same line as its
name or the next).  Prints one line per cycle, naming the calls that make
it; nothing when there is none."""
import glob
import os
import re
import sys

defs, text, edges = {}, {}, {}
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.c"))):
    name = os.path.basename(f)
    t = re.sub(r"/\*.*?\*/", "", open(f, encoding="utf-8").read(), flags=re.S)
    text[name] = t
    for m in re.finditer(r"^(?!static)[A-Za-z_][\w \*]*?\b(rs_\w+)\(([^;{]*)\)\s*\{", t, re.M):
        defs.setdefault(m.group(1), name)
for f, t in text.items():
    for fn in set(re.findall(r"\b(rs_\w+)\(", t)):
        g = defs.get(fn)
        if g and g != f:
            edges.setdefault(f, {}).setdefault(g, []).append(fn)

# strongly connected components (Tarjan's)
index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges.get(v, {}):
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
        if len(comp) > 1:
            comps.append(sorted(comp))


for v in sorted(text):
    if v not in index:
        visit(v)
for comp in comps:
    print("; ".join("%s -> %s (%s)" % (a, b, ", ".join(sorted(edges[a][b])))
                    for a in comp for b in comp if b in edges.get(a, {})))
