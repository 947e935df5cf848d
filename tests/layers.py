#!/usr/bin/python3
"""Check the include and call graphs of pinshim's C sources.

Layers, bottom first: base, pins, tls and conf (side by side), shim. A file
may include headers of its own layer or of a lower one, never a higher one.
Among shim/ modules (foo.c + foo.h count as one) there is no circle, of
includes or of calls: a module never calls a function defined in a module
that depends on it (an include or a call, directly or not), so nothing
reaches back up into daemon.c. A call is a name defined, not static, at
the start of a line in one module's .c (style(9): the type on the line
before) and followed by "(" in another module's .c. --graph prints the module graph, calls
marked "(calls)", for review notes.

Exit 0 and "layers: OK" when the rules hold; 1 with each violation named.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYER = {"base": 0, "pins": 1, "tls": 2, "conf": 2, "shim": 3}
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
DEF = re.compile(r'^(.*)\n([A-Za-z_]\w*)\(', re.M)
CALL = re.compile(r'\b([A-Za-z_]\w*)\s*\(')
NOISE = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|'
                   r"'(?:\\.|[^'\\\n])*'", re.S)
KNOWN_CIRCLES = []	# none: a new circle fails the check


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


def code(path):
    """The file's text without comments and string literals."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return NOISE.sub(" ", f.read())


def calls(files):
    """module -> modules whose functions it calls (shim/ only)."""
    defs = {}
    for src in files:
        if src.endswith(".c"):
            for before, name in DEF.findall(code(src)):
                if not before.startswith("static"):
                    defs.setdefault(name, module(src))
    edges = {}
    for src in files:
        if not src.endswith(".c"):
            continue    # a header's prototypes are no calls
        a = module(src)
        for name in set(CALL.findall(code(src))):
            b = defs.get(name)
            if b is not None and b != a:
                edges.setdefault(a, set()).add(b)
    return edges


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
    shim_files = [s for s in sources() if s.startswith("shim" + os.sep)]
    called = calls(shim_files)
    shim = {m for m in edges if m.startswith("shim")}
    shim |= {b for a in shim for b in edges[a] if b.startswith("shim")}
    shim |= set(called) | {b for a in called for b in called[a]}
    sub = {a: {b for b in edges.get(a, set()) | called.get(a, set())
               if b in shim} for a in shim}
    for comp in sccs(shim, sub):
        if len(comp) > 1 and comp not in KNOWN_CIRCLES:
            back = sorted("%s calls %s" % (a, b) for a in comp
                          for b in called.get(a, ()) if b in comp and
                          b not in edges.get(a, ()))
            bad.append("circle of %d shim modules: %s%s"
                       % (len(comp), " ".join(comp),
                          " (%s)" % "; ".join(back) if back else ""))
    if "--graph" in sys.argv:
        for a in sorted(set(edges) | set(called)):
            inc = edges.get(a, set())
            out = sorted(inc) + ["%s(calls)" % b for b in
                                 sorted(called.get(a, set()) - inc)]
            print("%s -> %s" % (a, " ".join(out)))
    for b in bad:
        print("layers: " + b)
    if not bad:
        print("layers: OK")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
