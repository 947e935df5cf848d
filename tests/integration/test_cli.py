"""The command-line conventions an operator meets first: `pinshim
--version`, `-V` and `version` print one line on stdout and exit 0;
`pinshim COMMAND --help` (every command, every feed subcommand) prints
that usage on stdout and exits 0; a usage error prints it on stderr and
exits 2; `pinshim help` lists every command and feed subcommand; every
command that reads the INI takes `-c FILE`, also before its operands.

The commands are read from shim/main.c's table and the feed subcommands
from shim/cmd/cmd_feed.c's, so a command added there is checked here
without editing this file."""

import re
import subprocess
import tempfile
import unittest

from harness import PINSHIM_CMD, ROOT

VERSION = re.compile(r"pinshim \S+ \(wolfSSL \S+, libevent \S+\)\n\Z")


def commands():
    """The names in main.c's command table, in order."""
    text = (ROOT / "shim" / "main.c").read_text()
    table = text[text.index("} cmds[] = {"):]
    table = table[:table.index("};")]
    return re.findall(r'\{ "([a-z]+)", cmd_', table)


def feed_subcommands():
    text = (ROOT / "shim" / "cmd" / "cmd_feed.c").read_text()
    table = text[text.index("} feed_subs[] = {"):]
    table = table[:table.index("};")]
    return re.findall(r'\{ "([a-z]+)", feed_cmd_', table)


CWD = None


def setUpModule():
    # a usage mistaken for an operand writes nothing into the tree
    global CWD
    CWD = tempfile.TemporaryDirectory(prefix="pinshim-cli-")


def tearDownModule():
    CWD.cleanup()


def pinshim(*args):
    return subprocess.run(PINSHIM_CMD + list(args), capture_output=True,
                          text=True, timeout=30, cwd=CWD.name)


class Cli(unittest.TestCase):

    def test_tables_are_read(self):
        # the tests below iterate these: an empty parse would pass them all
        self.assertEqual(commands()[:3], ["run", "pin", "feed"])
        self.assertIn("help", commands())
        self.assertIn("add", feed_subcommands())
        self.assertEqual(len(feed_subcommands()), 7)

    def test_version_is_one_line_on_stdout(self):
        for args in (["--version"], ["-V"], ["version"]):
            r = pinshim(*args)
            self.assertEqual((r.returncode, r.stderr), (0, ""), args)
            self.assertRegex(r.stdout, VERSION, args)

    def test_version_with_an_operand_is_a_usage_error(self):
        r = pinshim("version", "extra")
        self.assertEqual((r.returncode, r.stdout), (2, ""))
        self.assertTrue(r.stderr.startswith("usage: pinshim version"),
                        r.stderr)

    def test_help_lists_every_command_and_feed_subcommand(self):
        for args in (["help"], ["--help"], ["-h"]):
            r = pinshim(*args)
            self.assertEqual((r.returncode, r.stderr), (0, ""), args)
            self.assertTrue(r.stdout.startswith("usage: pinshim COMMAND"))
            forms = [ln.split()[:3] for ln in r.stdout.splitlines()
                     if ln.startswith("pinshim ")]
            for c in commands():
                self.assertIn(c, [f[1] for f in forms], c)
            for s in feed_subcommands():
                self.assertIn(["pinshim", "feed", s], forms, s)

    def test_no_command_is_a_usage_error(self):
        r = pinshim()
        self.assertEqual((r.returncode, r.stdout), (2, ""))
        self.assertIn("usage: pinshim COMMAND", r.stderr)
        r = pinshim("nosuchcommand")
        self.assertEqual((r.returncode, r.stdout), (2, ""))
        self.assertIn('unknown command "nosuchcommand"', r.stderr)

    def every_command(self):
        """(argv prefix, the form its usage starts with)"""
        out = []
        for c in commands():
            out.append(([c], "usage: pinshim " + c))
        for s in feed_subcommands():
            out.append((["feed", s], "usage: pinshim feed " + s))
        return out

    def test_every_command_help_is_its_usage_on_stdout(self):
        for prefix, head in self.every_command():
            for flag in ("--help", "-h"):
                r = pinshim(*prefix, flag)
                self.assertEqual((r.returncode, r.stderr), (0, ""),
                                 (prefix, flag))
                self.assertTrue(r.stdout.startswith(head),
                                (prefix, flag, r.stdout))
            # help COMMAND says the same
            if prefix != ["help"]:
                h = pinshim("help", *prefix)
                self.assertEqual((h.returncode, h.stdout), (0, r.stdout),
                                 prefix)

    def test_help_after_other_arguments(self):
        r = pinshim("feed", "sign", "--key", "k.key", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith("usage: pinshim feed sign"))
        r = pinshim("run", "-c", "/nonexistent/pinshim.ini", "-h")
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith("usage: pinshim run"))

    def test_every_usage_error_exits_2_on_stderr(self):
        for prefix, head in self.every_command():
            r = pinshim(*prefix, "--no-such-option")
            self.assertEqual((r.returncode, r.stdout), (2, ""), prefix)
            self.assertIn(head if prefix != ["help"] else
                          "usage: pinshim help", r.stderr, prefix)

    def test_feed_without_subcommand_lists_them_all(self):
        r = pinshim("feed")
        self.assertEqual((r.returncode, r.stdout), (2, ""))
        for s in feed_subcommands():
            self.assertIn("pinshim feed " + s, r.stderr, s)

    def test_c_file_is_read_by_every_command_that_reads_the_ini(self):
        ini = "/nonexistent/pinshim-cli-test.ini"
        for args in (["run", "-c", ini], ["run", "-t", "-c", ini],
                     ["run", "-c", ini, "-t"],
                     ["status", "-c", ini],
                     ["tofu", "list", "-c", ini], ["tofu", "-c", ini, "list"],
                     ["tofu", "forget", "api.test", "-c", ini],
                     ["tofu", "-c", ini, "forget", "api.test"],
                     ["monitor", "feed.txt", "-c", ini],
                     ["monitor", "-c", ini, "feed.txt"],
                     ["feed", "verify", "-c", ini, "feed.txt"],
                     ["feed", "verify", "feed.txt", "-c", ini]):
            r = pinshim(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(ini + ": cannot open", r.stderr, args)
            self.assertNotIn("usage:", r.stderr, args)


if __name__ == "__main__":
    unittest.main()
