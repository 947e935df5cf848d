"""Run the integration tests; last line: 'integration: N passed, N failed'.

Usage: run.py [-k PATTERN]... (substring of test ids, like pytest -k)
"""

import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402


class Result(unittest.TextTestResult):
    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.stream.write("  (%.1fs)\n" % (time.monotonic() - self._t0))


def main():
    patterns = [a for i, a in enumerate(sys.argv[1:])
                if i > 0 and sys.argv[i] == "-k"]
    loader = unittest.TestLoader()
    if patterns:
        loader.testNamePatterns = ["*%s*" % p for p in patterns]
    suite = loader.discover(str(Path(__file__).parent), pattern="test_*.py")
    runner = unittest.TextTestRunner(verbosity=2, resultclass=Result,
                                     stream=sys.stdout)
    try:
        res = runner.run(suite)
    finally:
        harness.cleanup_pki()
    failed = len(res.failures) + len(res.errors) + \
        len(res.unexpectedSuccesses)
    passed = res.testsRun - failed - len(res.skipped)
    for test, why in res.skipped:
        print("SKIPPED %s: %s" % (test.id(), why))
    print("integration: %d passed, %d failed, %d skipped"
          % (passed, failed, len(res.skipped)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
