"""The operator's documentation against the code it describes: every key
of the configuration tables (conf/*.c and pins/rule.c, the {key, parser,
field} tables base/ini.c reads) is in pinshim.ini(5) under its section and
in conf/pinshim.ini.example, and nothing documented is gone from the
tables; every command of shim/main.c's table and every feed subcommand is
in pinshim(8); `mandoc -Tlint` finds nothing in either page. The
markdown: every relative link in README.md, docs/*.md and bench/*.md
names a file that exists and, with a #fragment, a heading of that file
(GitHub's anchors); the README stays short and links every docs/ file,
and each of its INI examples passes `pinshim run -t`.

A key added to a table without its documentation fails here, naming the
section and the key."""

import getpass
import os
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import PINSHIM_CMD, ROOT, pki, pin_of
from test_cli import commands, feed_subcommands

MAN5 = ROOT / "man" / "pinshim.ini.5"
MAN8 = ROOT / "man" / "pinshim.8"
EXAMPLE = ROOT / "conf" / "pinshim.ini.example"
README = ROOT / "README.md"
README_MAX_LINES = 320


def c_sources():
    return sorted((ROOT / "conf").glob("*.c")) + [ROOT / "pins" / "rule.c"]


def config_tables():
    """{section name as ini_section spells it ("shim", "domain:", ...):
    [keys, in table order]}, from every `struct ini_key T[]` table and the
    `.name = ..., .keys = T` section that reads it."""
    tables, sections = {}, {}
    for src in c_sources():
        text = re.sub(r"/\*.*?\*/", "", src.read_text(), flags=re.S)
        for m in re.finditer(r"struct ini_key\s+(\w+)\[\]\s*=\s*\{(.*?)\n\};",
                             text, re.S):
            tables[m[1]] = (src, re.findall(r'INI_\w+\(\s*"([^"]+)"', m[2]))
        for m in re.finditer(r'\.name\s*=\s*"([^"]+)"[^}]*?\.keys\s*=\s*(\w+)',
                             text, re.S):
            sections[m[2]] = m[1]
    # A table copied after another section's keys (conf.c's [domain:]
    # loader appends its identity keys to pins/rule.c's): that section's.
    for table, (src, _) in tables.items():
        text = src.read_text()
        if table in sections:
            continue
        m = re.search(r"memcpy\([^;]*\b%s\b" % table, text)
        if m is None:
            continue
        for base, sect in list(sections.items()):
            if re.search(r"\b%s\(" % base.replace("_keys", "_section"),
                         text):
                sections[table] = sect
    out = {}
    for table, (src, keys) in tables.items():
        if table not in sections:
            raise AssertionError("%s: table %s: no .name = ..., .keys = %s "
                                 "section found: teach test_docs.py where it "
                                 "is read" % (src.name, table, table))
        out.setdefault(sections[table], []).extend(keys)
    return out


def same_section(table_name, doc_name):
    """"domain:" (a prefix section) is "domain:PATTERN" in the docs."""
    if table_name.endswith(":"):
        return doc_name.startswith(table_name)
    return doc_name == table_name


def man5_keys():
    """{section heading: set of keys} of pinshim.ini(5)."""
    out, cur = {}, None
    for line in MAN5.read_text().splitlines():
        if line.startswith(".Sh ") or line.startswith(".Ss "):
            m = re.match(r"\.Ss Bq (\S+)$", line)
            cur = m[1] if m else None
            if cur:
                out[cur] = set()
        elif cur:
            m = re.match(r"\.It Cm (\w+) No =", line)
            if m:
                out[cur].add(m[1])
    return out


def example_keys():
    """{section: set of keys} of the example, commented ones included."""
    out, cur = {}, None
    for line in EXAMPLE.read_text().splitlines():
        m = re.match(r";?\[([^\]]+)\]\s*$", line)
        if m:
            cur = m[1]
            out.setdefault(cur, set())
            continue
        m = re.match(r";?([a-z_0-9]+) *=", line)
        if m and cur:
            out[cur].add(m[1])
    return out


def missing(tables, documented):
    """'[section] key' of every table key the documentation lacks."""
    gaps = []
    for sec, keys in tables.items():
        have = set()
        for name, ks in documented.items():
            if same_section(sec, name):
                have |= ks
        shown = sec + "..." if sec.endswith(":") else sec
        gaps += ["[%s] %s" % (shown, k) for k in keys if k not in have]
    return gaps


def markdown_files():
    return [README] + sorted((ROOT / "docs").glob("*.md")) + \
        sorted((ROOT / "bench").glob("*.md"))


def prose(path):
    """The file's lines outside fenced code blocks, inline code removed
    (a `](x)` in code is not a link)."""
    out, fenced = [], False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        out.append("" if fenced else re.sub(r"`[^`]*`", "", line))
    return out


def anchors(path):
    """The fragments GitHub makes of the file's headings: lower case,
    punctuation dropped (backticks included), spaces to hyphens, a
    repeated one suffixed -1, -2, ..."""
    seen, out = {}, set()
    fenced = False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        m = re.match(r"#{1,6} (.*)$", line)
        if fenced or not m:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m[1].strip())
        a = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        n = seen.get(a, 0)
        seen[a] = n + 1
        out.add(a if n == 0 else "%s-%d" % (a, n))
    return out


def links(path):
    """(line number, target) of every inline link but absolute URLs."""
    out = []
    text = "\n".join(prose(path))
    for m in re.finditer(r"\]\(([^)]*)\)", text):
        target = m[1]
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue
        out.append((text.count("\n", 0, m.start()) + 1, target))
    return out


class Docs(unittest.TestCase):

    def test_tables_are_read(self):
        t = config_tables()
        # what the tests below compare: an empty parse would pass them
        for sec in ("shim", "upstream", "feed", "domain:", "listen:"):
            self.assertIn(sec, t)
        self.assertIn("tofu_accept_issuer", t["domain:"])
        self.assertIn("backlog", t["listen:"])
        self.assertGreaterEqual(sum(len(k) for k in t.values()), 45)

    def test_every_key_is_in_the_man_page(self):
        gaps = missing(config_tables(), man5_keys())
        self.assertEqual(gaps, [], "in the configuration tables but not in "
                         "man/pinshim.ini.5: " + ", ".join(gaps))

    def test_every_key_is_in_the_example(self):
        gaps = missing(config_tables(), example_keys())
        self.assertEqual(gaps, [], "in the configuration tables but not in "
                         "conf/pinshim.ini.example: " + ", ".join(gaps))

    def test_nothing_documented_is_gone_from_the_tables(self):
        tables = config_tables()
        for doc, name in ((man5_keys(), "man/pinshim.ini.5"),
                          (example_keys(), "conf/pinshim.ini.example")):
            stale = []
            for sec, keys in doc.items():
                known = [k for t, ks in tables.items() if same_section(t, sec)
                         for k in ks]
                if not known:
                    stale.append("[%s]" % sec)
                stale += ["[%s] %s" % (sec, k) for k in sorted(keys)
                          if known and k not in known]
            self.assertEqual(stale, [], "%s documents what the tables do "
                             "not have: %s" % (name, ", ".join(stale)))

    def test_every_command_is_in_pinshim_8(self):
        text = MAN8.read_text()
        body = text[text.index(".Sh COMMANDS"):]
        body = body[:body.index("\n.Sh ", 1)]
        items = re.findall(r"^\.It Cm (\w+)(?: (\w+))?", body, re.M)
        names = {a for a, _ in items}
        for c in commands():
            self.assertIn(c, names, "pinshim %s: not in man/pinshim.8's "
                          "COMMANDS" % c)
        feed = {b for a, b in items if a == "feed"}
        for s in feed_subcommands():
            self.assertIn(s, feed, "pinshim feed %s: not in man/pinshim.8's "
                          "COMMANDS" % s)
        for sh in ("SYNOPSIS", "EXIT STATUS", "SIGNALS", "FILES",
                   "EXAMPLES"):
            self.assertIn("\n.Sh %s\n" % sh, text)

    def test_mandoc_lint_is_clean(self):
        if shutil.which("mandoc") is None:
            self.skipTest("mandoc is not installed (tests/deps.sh test "
                          "installs it)")
        r = subprocess.run(["mandoc", "-Tlint", str(MAN8), str(MAN5)],
                           capture_output=True, text=True, timeout=60)
        # the one message that is about this machine, not the pages: the
        # sibling page is not installed in its manual database
        lines = [ln for ln in (r.stdout + r.stderr).splitlines()
                 if not re.search(r"referenced manual not found: Xr "
                                  r"(pinshim 8|pinshim\.ini 5)", ln)]
        self.assertEqual(lines, [])

    def test_relative_links_resolve(self):
        bad, count = [], 0
        for md in markdown_files():
            for line, target in links(md):
                count += 1
                where = "%s:%d: (%s)" % (md.relative_to(ROOT), line, target)
                if re.search(r"\s", target) or not target:
                    bad.append(where + ": broken across lines or empty")
                    continue
                path, _, frag = target.partition("#")
                dest = (md.parent / path).resolve() if path else md
                if not dest.exists():
                    bad.append(where + ": no such file")
                elif frag and dest.suffix != ".md":
                    bad.append(where + ": a fragment of a file that is "
                               "not markdown")
                elif frag and frag not in anchors(dest):
                    bad.append(where + ": no such heading in " +
                               str(dest.relative_to(ROOT)))
        self.assertGreater(count, 40)   # the links were found at all
        self.assertEqual(bad, [], "\n" + "\n".join(bad))

    def test_readme_is_short_and_reaches_every_doc(self):
        lines = README.read_text().splitlines()
        self.assertLessEqual(len(lines), README_MAX_LINES,
                             "README.md: %d lines: move detail to docs/"
                             % len(lines))
        linked = {(README.parent / t.partition("#")[0]).resolve()
                  for _, t in links(README)}
        docs = sorted((ROOT / "docs").glob("*.md"))
        self.assertGreater(len(docs), 3)
        for doc in docs:
            self.assertIn(doc.resolve(), linked,
                          "README.md does not link %s" %
                          doc.relative_to(ROOT))
        for doc in docs:
            # each says who it is for before anything else
            first = doc.read_text().split("\n\n")[1]
            self.assertRegex(first, r"^For ", "%s: the first paragraph "
                             "says who the file is for" %
                             doc.relative_to(ROOT))

    def test_readme_configurations_pass_run_t(self):
        """Each ```ini block of the README, with its placeholders made
        real (pins, paths, the user), is a configuration `run -t` accepts.
        A fragment gets what it leaves out: a tunnel for a [domain:] alone,
        a [shim] state_dir for an interception listener alone."""
        blocks = re.findall(r"```ini\n(.*?)```", README.read_text(), re.S)
        self.assertGreaterEqual(len(blocks), 5)
        tmp = Path(tempfile.mkdtemp(prefix="pinshim-readme-"))
        self.addCleanup(shutil.rmtree, tmp, True)
        tmp.chmod(0o755)           # [shim] user must reach state_dir
        state = tmp / "state"
        state.mkdir(mode=0o755)
        r = subprocess.run(PINSHIM_CMD + ["ca", "init", str(state / "ca")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in ("pem", "key"):
            shutil.copy(pki() / ("leaf." + name), tmp / ("id." + name))
        (tmp / "id.key").chmod(0o600)
        (tmp / "id.pem").chmod(0o644)
        pin = pin_of(tmp / "id.pem")
        user = "nobody" if os.geteuid() == 0 else getpass.getuser()
        for i, block in enumerate(blocks):
            text = re.sub(r"sha256/[A-Z0-9-]+…", pin, block)
            text = text.replace("/var/lib/pinshim", str(state))
            text = re.sub(r"/etc/pinshim/\w+\.pem", str(tmp / "id.pem"), text)
            text = re.sub(r"/etc/pinshim/\w+\.key", str(tmp / "id.key"), text)
            text = text.replace("user = pinshim", "user = " + user)
            if "[listen:" not in text:
                host = re.search(r"\[domain:([^\]]+)\]", text)[1]
                text += ("\n[listen:readme]\nmode = tunnel\nbind = "
                         "127.0.0.1:1\nconnect = %s:443\n" % host)
            elif "[shim]" not in text:
                text = "[shim]\nstate_dir = %s\n\n" % state + text
            ini = tmp / ("readme-%d.ini" % i)
            ini.write_text(text)
            r = subprocess.run(PINSHIM_CMD + ["run", "-t", "-c", str(ini)],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, "README's ini block %d:\n%s\n"
                             "%s" % (i + 1, block, r.stdout + r.stderr))
            self.assertIn("configuration OK", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
