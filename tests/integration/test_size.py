"""The default build's footprint: stripped, at most 1.5 MiB on x86-64 and
1.3 MiB on arm64 (an OpenWrt router's flash), with the hot path still in
assembly and the big precomputed tables of curves it does not need gone
(mk/wolfssl.sh: SP code for P-256 only).

Only for what that budget is about: pinshim's own wolfSSL linked in,
dynamically linked (STATIC=1 carries glibc too), without sanitizers; a
WOLFSSL=system build or another machine's binary is skipped, saying why.
Reads the binary, runs `strip` on a copy; builds nothing.
"""

import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import harness

MIB = 1024 * 1024
# ELF machine -> (stripped budget, symbols the hot path must keep: AES-GCM,
# SHA-256, X25519 and P-256 in assembly)
BUDGET = {
    "Advanced Micro Devices X86-64": (
        1.5 * MIB, ("AES_GCM_encrypt_avx2", "AES_GCM_decrypt_aesni",
                    "Transform_Sha256_AVX2", "curve25519_x64",
                    "sp_256_mont_mul_avx2_4", "sp_ecc_verify_256")),
    "AArch64": (
        1.3 * MIB, ("Aes128GcmEncrypt", "Sha256Transform",
                    "curve25519", "sp_ecc_verify_256")),
}


def run(*argv):
    return subprocess.run(argv, check=True, capture_output=True,
                          text=True).stdout


class Footprint(unittest.TestCase):
    def setUp(self):
        binary = harness.PINSHIM
        if not binary.exists():
            self.skipTest("%s not built" % binary)
        if harness.sanitized():
            self.skipTest("a sanitizer build")
        head = run("readelf", "-h", "-l", "-d", str(binary))
        machine = [ln.split(":", 1)[1].strip() for ln in head.splitlines()
                   if ln.strip().startswith("Machine:")][0]
        if machine not in BUDGET:
            self.skipTest("no budget for %s" % machine)
        if "INTERP" not in head:
            self.skipTest("a static build (glibc linked in)")
        if "libwolfssl" in head:
            self.skipTest("linked to a shared wolfSSL (WOLFSSL=system)")
        self.budget, self.hot = BUDGET[machine]
        self.binary = binary
        self.prefix = "" if machine.startswith("Advanced") else \
            "aarch64-linux-gnu-"

    def symbols(self):
        out = run(self.prefix + "nm", str(self.binary))
        return {ln.split()[-1].split(".")[0] for ln in out.splitlines()
                if len(ln.split()) == 3 and ln.split()[1] in "tTrR"}

    def test_stripped_binary_within_budget(self):
        tmp = Path(tempfile.mkdtemp(prefix="pinshim-test-"))
        self.addCleanup(shutil.rmtree, tmp, True)
        run(self.prefix + "strip", "-o", str(tmp / "pinshim"),
            str(self.binary))
        size = (tmp / "pinshim").stat().st_size
        print("\n    stripped: %d KiB (budget %d KiB)" % (
            size // 1024, self.budget // 1024))
        self.assertLessEqual(size, self.budget)

    def test_hot_path_in_assembly_and_no_big_curve_tables(self):
        have = self.symbols()
        self.assertEqual([s for s in self.hot if s not in have], [])
        # P-384/P-521 use the generic math: none of their SP code or
        # tables (1.1 MB) is linked
        self.assertEqual(sorted(s for s in have if s.startswith(
            ("sp_384_", "sp_521_", "p384_", "p521_")))[:5], [])
