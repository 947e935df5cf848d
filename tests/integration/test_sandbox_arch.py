"""The worker's seccomp filter as each target's compiler builds it, MIPS
included (OpenWrt's most common architecture): seccomp_dump.c prints the
filter shim/proc/sandbox.c makes for that target (compiled with its cross
compiler, statically, and run under qemu-user, which cannot load a filter
but can print one), and a classic-BPF interpreter here runs it on the
system calls it must allow, deny and kill, numbered as that target's
kernel numbers them. No emulator or kernel here applies a filter on
MIPS: what is proven is the filter's content; the kernel's side of it is
not tested."""

import shutil
import struct
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import ROOT

DUMP = ROOT / "tests" / "integration" / "seccomp_dump.c"

ALLOW = 0x7fff0000
KILL = 0x80000000
EPERM = 0x00050000 | 1
ENOSYS = 0x00050000 | 38

AF_INET, AF_NETLINK = 2, 16
CLONE_VM, CLONE_SIGHAND, CLONE_THREAD = 0x100, 0x800, 0x10000
CLONE_NEWNET = 0x40000000
THREAD = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD

# name: (compiler, emulator or None, audit arch, system call numbers,
#        SIGCHLD); numbers from each kernel's syscall table
TARGETS = {
    "x86_64": ("cc", None, 0xc000003e,
               dict(read=0, execve=59, socket=41, clone=56, fork=57,
                    mount=165), 17),
    "mipsel (o32)": ("mipsel-linux-gnu-gcc", "qemu-mipsel-static", 0x40000008,
                     dict(read=4003, execve=4011, socket=4183, clone=4120,
                          fork=4002, mount=4021, syscall=4000), 18),
    "mips (o32, big-endian)": ("mips-linux-gnu-gcc", "qemu-mips-static",
                               0x00000008,
                               dict(read=4003, execve=4011, socket=4183,
                                    clone=4120, fork=4002, mount=4021,
                                    syscall=4000), 18),
    "arm": ("arm-linux-gnueabihf-gcc", "qemu-arm-static", 0x40000028,
            dict(read=3, execve=11, socket=281, clone=120, fork=2,
                 mount=21), 17),
    "aarch64": ("aarch64-linux-gnu-gcc", "qemu-aarch64-static", 0xc00000b7,
                dict(read=63, execve=221, socket=198, clone=220,
                     mount=40), 17),
}


def run_bpf(prog, data):
    """Classic BPF as seccomp runs it: the instructions sandbox.c uses."""
    a, pc = 0, 0
    while True:
        code, jt, jf, k = prog[pc]
        cls = code & 0x07
        if code == 0x20:                    # LD W ABS
            a = data[k]
        elif code == 0x54:                  # ALU AND K
            a &= k
        elif code == 0x06:                  # RET K
            return k
        elif cls == 0x05:                   # JMP
            op = code & 0xf0
            if op == 0x00:                  # JA
                pc += k
            else:
                hit = {0x10: a == k, 0x30: a >= k, 0x40: a & k != 0}[op]
                pc += jt if hit else jf
        else:
            raise AssertionError("instruction %#x not modelled" % code)
        pc += 1


def seccomp_data(nr, arch, args, big):
    """{offset: 32-bit word} of struct seccomp_data as the target lays it
    out: nr, arch, instruction pointer, six 64-bit arguments."""
    e = ">" if big else "<"
    raw = struct.pack(e + "iIQ6Q", nr, arch, 0, *(list(args) + [0] * 6)[:6])
    return {off: struct.unpack(e + "I", raw[off:off + 4])[0]
            for off in range(0, len(raw), 4)}


class SandboxArch(unittest.TestCase):

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="pinshim-seccomp-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def dump(self, name):
        cc, emu, *_ = TARGETS[name]
        if shutil.which(cc) is None or (emu and shutil.which(emu) is None):
            # tests/deps.sh test installs them on amd64; elsewhere shown
            self.skipTest("%s: no %s here (Debian: gcc-%s, qemu-user-static)"
                          % (name, cc if shutil.which(cc) is None
                             else emu, cc[:-4]))
        out = self.tmp / "dump"
        subprocess.run([cc] + ["-static" if emu else "-O0", "-std=c11",
                             "-D_GNU_SOURCE", "-I", str(ROOT), "-Wall",
                             "-Werror", "-o", str(out), str(DUMP)],
                       check=True, capture_output=True, timeout=300)
        r = subprocess.run(([emu] if emu else []) + [str(out)],
                           capture_output=True, text=True, check=True,
                           timeout=60)
        lines = r.stdout.splitlines()
        head = lines[0].split()
        self.assertNotEqual(head[1], "none", "%s: no filter built" % name)
        prog = [tuple(int(x) for x in ln.split()) for ln in lines[1:]]
        return int(head[1]), head[2] == "big", prog

    def check(self, name):
        arch, big, prog = self.dump(name)
        _, _, want_arch, nr, sigchld = TARGETS[name]
        self.assertEqual(arch, want_arch)

        def verdict(call, *args, arch=arch):
            return run_bpf(prog, seccomp_data(nr[call], arch, args, big))

        self.assertEqual(verdict("read", 0, 0, 0), ALLOW)
        self.assertEqual(verdict("execve"), EPERM)
        self.assertEqual(verdict("mount"), EPERM)
        self.assertEqual(verdict("socket", AF_INET, 1, 0), ALLOW)
        self.assertEqual(verdict("socket", AF_NETLINK, 3, 0), EPERM)
        self.assertEqual(verdict("clone", THREAD), ALLOW)
        self.assertEqual(verdict("clone", sigchld), EPERM)    # a process
        self.assertEqual(verdict("clone", THREAD | CLONE_NEWNET), EPERM)
        if "fork" in nr:
            self.assertEqual(verdict("fork"), EPERM)
        if "syscall" in nr:                 # o32's indirect system call
            self.assertEqual(verdict("syscall", nr["execve"]), EPERM)
        # the same call through another ABI's arch value is killed
        self.assertEqual(verdict("read", arch=arch ^ 0x40000000), KILL)

    def test_x86_64(self):
        self.check("x86_64")

    def test_mipsel_o32(self):
        self.check("mipsel (o32)")

    def test_mips_o32_big_endian(self):
        self.check("mips (o32, big-endian)")

    def test_arm(self):
        self.check("arm")

    def test_aarch64(self):
        self.check("aarch64")


if __name__ == "__main__":
    unittest.main()
