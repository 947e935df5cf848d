#!/usr/bin/python3
"""Check the include graph of pinshim's C sources.

Layers, bottom first: base, pins, tls and conf (side by side), shim. A file
may include headers of its own layer or of a lower one, never a higher one.
Among shim/ modules (foo.c + foo.h count as one) no include cycle may be
longer than two. --graph prints the module graph (for review notes).

Exit 0 and "layers: OK" when the rules hold; 1 with each violation named.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYER = {"base": 0, "pins": 1, "tls": 2, "conf": 2, "shim": 3}
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources():
    for top in LAYER:
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(d, f), ROOT)


def includes(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        text = f.read()
    for inc in INC.findall(text):
        # "dir/x.h" is from the root (-I.); "x.h" is beside the file.
        cand = os.path.normpath(os.path.join(os.path.dirname(path), inc))
        if not os.path.exists(os.path.join(ROOT, cand)):
            cand = os.path.normpath(inc)
        yield cand


def module(path):
    return os.path.splitext(path)[0]


def sccs(nodes, edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
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

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    bad = []
    edges = {}
    for src in sorted(sources()):
        top = src.split(os.sep)[0]
        for inc in includes(src):
            itop = inc.split(os.sep)[0]
            if itop not in LAYER:
                bad.append("%s includes %s: not a pinshim header" % (src, inc))
                continue
            if LAYER[itop] > LAYER[top] or (LAYER[itop] == LAYER[top] and
                                            itop != top):
                bad.append("%s (%s) includes %s (%s): points up or sideways"
                           % (src, top, inc, itop))
            a, b = module(src), module(inc)
            if a != b:
                edges.setdefault(a, set()).add(b)
    shim = {m for m in edges if m.startswith("shim")}
    shim |= {b for a in shim for b in edges[a] if b.startswith("shim")}
    sub = {a: {b for b in edges.get(a, ()) if b in shim} for a in shim}
    for comp in sccs(shim, sub):
        if len(comp) > 2:
            bad.append("include cycle of %d shim modules: %s"
                       % (len(comp), " ".join(comp)))
    if "--graph" in sys.argv:
        for a in sorted(edges):
            print("%s -> %s" % (a, " ".join(sorted(edges[a]))))
    for b in bad:
        print("layers: " + b)
    if not bad:
        print("layers: OK")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
