"""The event loop's wait for the keeper's signature, per full mutual-TLS
handshake (wolfSSL's PK callbacks are synchronous: the worker waits for
keeper_sign's round trip), for an ECDSA P-256 and an RSA 2048 device key
over TLS 1.3 and 1.2. A Python-ssl server that requires a client
certificate and issues no session tickets, so every connection signs;
the figures are the worker's own debug lines "signed in N us". Numbers,
not a test.

    BUILD=build /usr/bin/python3 bench/mtls_stall.py [N]
"""

import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" /
                       "integration"))
import harness  # noqa: E402
import test_mtls  # noqa: E402


def server(pki, dev, version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki / "leaf-chain.pem", pki / "leaf.key")
    ctx.load_verify_locations(dev / "devca.pem")
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.minimum_version = ctx.maximum_version = version
    ctx.num_tickets = 0
    ctx.options |= ssl.OP_NO_TICKET
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)

    def serve():
        while True:
            c, _ = ls.accept()
            try:
                s = ctx.wrap_socket(c, server_side=True)
                s.sendall(b"ok")
                s.close()
            except (OSError, ssl.SSLError):
                c.close()
    threading.Thread(target=serve, daemon=True).start()
    return ls.getsockname()[1]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    tmp = Path(tempfile.mkdtemp(prefix="pinshim-mtls-stall-"))
    try:
        pki, dev = harness.pki(), test_mtls.device_pki(tmp / "dev")
        hosts = tmp / "hosts"
        hosts.write_text("127.0.0.1 api.test\n")
        for ident in ("dev-ec", "dev-rsa"):
            for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
                up, lp = server(pki, dev, version), harness.free_port()
                ini = tmp / "b.ini"
                ini.write_text("""[shim]
log_level = debug
[upstream]
ca_file = %s
hosts_file = %s
[domain:api.test]
policy = pin
pins = %s
client_cert = %s
client_key = %s
[listen:t]
mode = tunnel
bind = 127.0.0.1:%d
connect = api.test:%d
""" % (pki / "ca.pem", hosts, harness.pin_of(pki / "leaf.pem"),
                    dev / (ident + ".pem"), dev / (ident + ".key"), lp, up))
                log = tmp / "log"
                with open(log, "w") as out:
                    sh = subprocess.Popen(harness.PINSHIM_CMD +
                                          ["run", "-c", str(ini)],
                                          stdout=out,
                                          stderr=subprocess.STDOUT)
                    harness.wait_port(lp)
                    for _ in range(n):
                        with socket.create_connection(("127.0.0.1",
                                                       lp)) as s:
                            assert s.recv(2) == b"ok"
                        time.sleep(0.13)    # under the keeper's 8 a second
                    sh.terminate()
                    sh.wait()
                us = sorted(int(x) for x in re.findall(
                    r"signed in (\d+) us", log.read_text()))
                print("%-8s %-8s n=%d median=%dus p90=%dus max=%dus" % (
                    ident, version.name, len(us), statistics.median(us),
                    us[int(len(us) * 0.9) - 1], us[-1]))
    finally:
        harness.cleanup_pki()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
