"""Device identities (mutual TLS upstream): client_cert and client_key.

Real peers: mosquitto with require_certificate through a tunnel (TLS 1.2
and 1.3, ECDSA and RSA device keys), nginx with ssl_verify_client on
through a forward listener (CONNECT, intercepted). The certificate goes
only to a server whose chain passed the pin check; a broker that refuses
the client is a refusal named with its alert and counted in /metrics;
the private key never enters the worker (read from /proc, as the CA
key's absence is); an encrypted key is refused by run -t. Every key is
made at test time."""

import os
import re
import shutil
import socket
import ssl
import subprocess
import unittest
import urllib.request
from pathlib import Path

import test_intercept
from harness import (PINSHIM_CMD, WAIT, Proc, Shim, ShimTest, TLSServer,
                     free_port, nginx, pin_of, wait_port)


def ossl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   capture_output=True)


def device_pki(d):
    """devca.pem (the brokers' client CA), a device certificate with an
    ECDSA P-256 key and one with an RSA 2048 key, a stranger's (another
    CA), and the ECDSA key encrypted."""
    d.mkdir(parents=True, exist_ok=True)
    ext = d / "client.ext"
    ext.write_text("basicConstraints=critical,CA:FALSE\n"
                   "keyUsage=critical,digitalSignature\n"
                   "extendedKeyUsage=clientAuth\n")
    ca_ext = d / "ca.ext"
    ca_ext.write_text("basicConstraints=critical,CA:TRUE\n"
                      "keyUsage=critical,keyCertSign,cRLSign\n")
    for ca, cn in (("devca", "Device CA"), ("otherca", "Stranger CA")):
        ossl("genpkey", "-algorithm", "EC", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-out", ca + ".key", cwd=d)
        ossl("req", "-new", "-x509", "-key", ca + ".key", "-subj",
             "/CN=" + cn, "-days", "30", "-addext",
             "basicConstraints=critical,CA:TRUE", "-out", ca + ".pem",
             cwd=d)
    for name, ca, alg in (("dev-ec", "devca", ["-algorithm", "EC",
                                               "-pkeyopt",
                                               "ec_paramgen_curve:P-256"]),
                          ("dev-rsa", "devca", ["-algorithm", "RSA",
                                                "-pkeyopt",
                                                "rsa_keygen_bits:2048"]),
                          ("stranger", "otherca", ["-algorithm", "EC",
                                                   "-pkeyopt",
                                                   "ec_paramgen_curve:P-256"])):
        ossl("genpkey", *alg, "-out", name + ".key", cwd=d)
        ossl("req", "-new", "-key", name + ".key", "-subj", "/CN=" + name,
             "-out", name + ".csr", cwd=d)
        ossl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem",
             "-CAkey", ca + ".key", "-CAcreateserial", "-days", "30",
             "-extfile", str(ext), "-out", name + ".pem", cwd=d)
    ossl("pkey", "-in", "dev-ec.key", "-aes256", "-passout", "pass:secret",
         "-out", "dev-enc.key", cwd=d)
    for k in d.glob("*.key"):
        os.chmod(k, 0o600)
    return d


def ec_scalar(key):
    """The private scalar of a P-256 key, as openssl prints it."""
    out = subprocess.run(["openssl", "pkey", "-in", str(key), "-noout",
                          "-text"], check=True, capture_output=True,
                         text=True).stdout
    hexes = re.search(r"priv:\n((?:\s+[0-9a-f:]+\n)+)", out).group(1)
    raw = bytes.fromhex(re.sub(r"[\s:]", "", hexes))
    return raw[-32:]


def rsa_prime(key):
    """The first prime of an RSA key (a needle that only the key has)."""
    out = subprocess.run(["openssl", "pkey", "-in", str(key), "-noout",
                          "-text"], check=True, capture_output=True,
                         text=True).stdout
    hexes = re.search(r"prime1:\n((?:\s+[0-9a-f:]+\n)+)", out).group(1)
    return bytes.fromhex(re.sub(r"[\s:]", "", hexes)).lstrip(b"\0")


MQTT_CONNECT = bytes([0x10, 0x12, 0x00, 0x04]) + b"MQTT" + \
    bytes([0x04, 0x02, 0x00, 0x3c, 0x00, 0x06]) + b"device"


def mqtt_connack(port):
    """MQTT CONNECT through the tunnel: the CONNACK, or b"" when the
    connection was closed instead."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(MQTT_CONNECT)
        got = b""
        while len(got) < 4:
            try:
                b = s.recv(4 - len(got))
            except ConnectionResetError:
                return got
            if not b:
                return got
            got += b
        return got


class Mosquitto(Proc):
    """mosquitto with a TLS listener that requires a client certificate
    from devca (tls_version: tlsv1.2 or tlsv1.3)."""

    def __init__(self, test, dev, tls_version):
        self.port = free_port()
        conf = Path(test.tmp) / ("mosquitto-%d.conf" % self.port)
        conf.write_text("""user root
per_listener_settings false
allow_anonymous true
listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
require_certificate true
use_identity_as_username true
tls_version %s
""" % (self.port, dev / "devca.pem", test.pki / "leaf-chain.pem",
            test.pki / "leaf.key", tls_version))
        super().__init__(test, ["mosquitto", "-c", str(conf), "-v"],
                         "mosquitto-%d" % self.port)
        wait_port(self.port, self.p)


@unittest.skipUnless(shutil.which("mosquitto"), "needs mosquitto")
class MTLS(ShimTest):

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.devdir = Path(tempfile.mkdtemp(prefix="pinshim-dev-"))
        os.chmod(cls.devdir, 0o755)
        device_pki(cls.devdir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.devdir, ignore_errors=True)

    def tunnel(self, broker, ident="dev-ec", status=None, where="domain",
               cert=None, extra=""):
        dev = self.devdir
        cert = cert or ident
        keys = "client_cert = %s\nclient_key = %s\n" % (
            dev / (cert + ".pem"), dev / (ident + ".key")) if ident else ""
        domains = "[domain:api.test]\npolicy = pin\npins = %s\n%s\n" % (
            pin_of(self.pki / "leaf.pem"), keys if where == "domain" else "")
        self.sport = status
        ini = self.ini("api.test:%d" % broker.port, domains)
        if where == "listen":
            ini += keys
        ini += extra
        if status:
            ini = "[shim]\nstatus = 127.0.0.1:%d\nlog_level = debug\n" % \
                status + ini
        return Shim(self, ini)

    def metrics(self):
        return urllib.request.urlopen("http://127.0.0.1:%d/metrics" %
                                      self.sport, timeout=WAIT).read() \
            .decode()

    def assert_pass(self, shim, broker, ident_name="domain:api.test"):
        self.assertEqual(mqtt_connack(self.port), b"\x20\x02\x00\x00")
        v = shim.verdict()
        self.assertEqual(v["verdict"], "pass", v)
        self.assertEqual(v.get("client_cert"), ident_name, v)
        self.assertRegex(shim.log.text(), r"keeper: signed a handshake as "
                         r"\[%s\]" % re.escape(ident_name))

    def assert_refused(self, shim, alert):
        self.assertEqual(mqtt_connack(self.port), b"")
        v = shim.verdict()
        self.assertEqual(v["verdict"], "refuse", v)
        self.assertEqual(v["reason"], "client-cert-refused", v)
        self.assertRegex(v["detail"], "alert (%s)|without an alert" % alert
                         if alert == "unknown_ca" else "alert (%s)" % alert)
        m = self.metrics()
        self.assertRegex(m, r'pinshim_verdicts_total\{[^}]*verdict="refuse"'
                         r'[^}]*reason="client-cert-refused"[^}]*\} 1\n')
        self.assertNotIn('verdict="pass"', m)
        return v

    # --- tunnel, both TLS versions, both key types -------------------------

    def test_tls13_ecdsa_device_key(self):
        broker = Mosquitto(self, self.devdir, "tlsv1.3")
        shim = self.tunnel(broker, "dev-ec", status=free_port())
        self.assert_pass(shim, broker)
        # the broker took the device's certificate as its identity
        broker.log.wait(r"as device \(.*u'dev-ec'\)")
        # a resumed session: the broker keeps the identity, no signature
        self.assertEqual(mqtt_connack(self.port), b"\x20\x02\x00\x00")
        v = shim.verdict()
        self.assertEqual(v["verdict"], "pass", v)
        self.assertIn("(resumed;", v["detail"])
        self.assertEqual(shim.log.text().count("signed a handshake"), 1)

    def test_tls13_rsa_device_key(self):
        broker = Mosquitto(self, self.devdir, "tlsv1.3")
        shim = self.tunnel(broker, "dev-rsa", status=free_port())
        self.assert_pass(shim, broker)
        self.assertIn("RSA-PSS", shim.log.text())
        broker.log.wait(r"as device \(.*u'dev-rsa'\)")

    def test_tls12_ecdsa_device_key(self):
        broker = Mosquitto(self, self.devdir, "tlsv1.2")
        shim = self.tunnel(broker, "dev-ec", status=free_port())
        self.assert_pass(shim, broker)

    def test_tls12_rsa_device_key(self):
        broker = Mosquitto(self, self.devdir, "tlsv1.2")
        shim = self.tunnel(broker, "dev-rsa", status=free_port())
        self.assert_pass(shim, broker)

    def test_a_listener_identity_overrides_the_domains(self):
        broker = Mosquitto(self, self.devdir, "tlsv1.3")
        dev = self.devdir
        # the domain's is a stranger's: the listener's must be the one sent
        shim = self.tunnel(broker, "stranger", status=free_port(),
                           extra="client_cert = %s\nclient_key = %s\n" % (
                               dev / "dev-rsa.pem", dev / "dev-rsa.key"))
        self.assert_pass(shim, broker, "listen:api")
        broker.log.wait(r"as device \(.*u'dev-rsa'\)")

    # --- refusals, named with the broker's alert ---------------------------

    def test_tls13_without_a_certificate_is_a_refusal(self):
        broker = Mosquitto(self, self.devdir, "tlsv1.3")
        shim = self.tunnel(broker, None, status=free_port())
        v = self.assert_refused(shim, "certificate_required")
        self.assertIn("none configured for this host", v["detail"])

    def test_tls12_without_a_certificate_is_a_refusal(self):
        broker = Mosquitto(self, self.devdir, "tlsv1.2")
        shim = self.tunnel(broker, None, status=free_port())
        self.assert_refused(shim, "certificate_required|handshake_failure")

    def test_tls13_a_wrong_certificate_is_a_refusal(self):
        broker = Mosquitto(self, self.devdir, "tlsv1.3")
        shim = self.tunnel(broker, "stranger", status=free_port())
        v = self.assert_refused(shim, "unknown_ca")
        self.assertIn("the device identity (client_cert) was sent",
                      v["detail"])

    def test_tls12_a_wrong_certificate_is_a_refusal(self):
        broker = Mosquitto(self, self.devdir, "tlsv1.2")
        shim = self.tunnel(broker, "stranger", status=free_port())
        self.assert_refused(shim, "unknown_ca")

    # --- sent only to a server whose chain passed ---------------------------

    def test_the_identity_never_goes_to_a_server_that_fails_the_pins(self):
        for version in ("tlsv1.3", "tlsv1.2"):
            with self.subTest(version=version):
                broker = Mosquitto(self, self.devdir, version)
                dev = self.devdir
                domains = "[domain:api.test]\npolicy = pin\npins = %s\n" \
                    "client_cert = %s\nclient_key = %s\n" % (
                        pin_of(self.pki / "backup.pem"),
                        dev / "dev-ec.pem", dev / "dev-ec.key")
                shim = Shim(self, self.ini("api.test:%d" % broker.port,
                                           domains), name="shim" + version)
                self.assertEqual(mqtt_connack(self.port), b"")
                v = shim.verdict()
                self.assertEqual(v["reason"], "pin-mismatch", v)
                shim.stop()
                self.assertNotIn("signed a handshake", shim.log.text())
                broker.stop()
                # the broker never saw a client certificate
                self.assertNotIn("dev-ec", broker.log.text())

    # --- the keeper's bounded wait -----------------------------------------

    def test_a_keeper_that_does_not_sign_fails_that_handshake_only(self):
        import signal
        import time
        from test_privsep import children
        broker = Mosquitto(self, self.devdir, "tlsv1.3")
        shim = self.tunnel(broker, "dev-ec", status=free_port())
        keeper = children(shim.p.pid)[0]
        os.kill(keeper, signal.SIGSTOP)
        self.addCleanup(lambda: os.kill(keeper, signal.SIGCONT))
        start = time.monotonic()
        self.assertEqual(mqtt_connack(self.port), b"")
        waited = time.monotonic() - start
        v = shim.verdict()
        self.assertEqual(v["verdict"], "refuse", v)
        self.assertEqual(v["reason"], "client-cert-refused", v)
        self.assertIn("the device identity did not sign", v["detail"])
        shim.log.wait(r"no signature for device identity 0 within 1000 ms")
        self.assertGreaterEqual(waited, 1.0)    # the bound was waited out
        # the late answer is dropped, the next handshake gets its own
        os.kill(keeper, signal.SIGCONT)
        self.assertEqual(mqtt_connack(self.port), b"\x20\x02\x00\x00")
        v = shim.verdict()
        self.assertEqual(v["verdict"], "pass", v)

    def test_a_tls13_server_that_asks_and_stays_silent_keeps_the_client(self):
        # optional client certificate, no session tickets, client speaks
        # first: the verdict waits out its bound, then passes
        from harness import SServer
        srv = SServer(self, self.pki / "leaf.pem", self.pki / "leaf.key",
                      self.pki / "inter.pem",
                      extra=("-rev", "-tls1_3", "-verify", "1",
                             "-num_tickets", "0"))
        shim = self.tunnel(srv, "dev-ec")
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=WAIT) as s:
            s.sendall(b"hello\n")
            got = b""
            while b"\n" not in got:
                b = s.recv(100)
                if not b:
                    break
                got += b
        self.assertEqual(got, b"olleh\n")
        v = shim.verdict()
        self.assertEqual(v["verdict"], "pass", v)
        self.assertEqual(v["client_cert"], "domain:api.test")

    # --- the key stays in the keeper ---------------------------------------

    def test_the_worker_never_holds_the_device_key(self):
        import pwd
        from test_privsep import children, memory_holds, status_of
        broker = Mosquitto(self, self.devdir, "tlsv1.3")
        os.chmod(self.tmp, 0o755)
        for ident, needle in (("dev-ec", ec_scalar),
                              ("dev-rsa", rsa_prime)):
            with self.subTest(key=ident):
                # as the CA key's test: the worker drops to nobody, the
                # keeper keeps root
                shim = self.tunnel(broker, ident,
                                   extra="[shim]\nuser = nobody\n")
                self.assertEqual(mqtt_connack(self.port),
                                 b"\x20\x02\x00\x00")
                keepers = children(shim.p.pid)
                self.assertEqual(len(keepers), 1, keepers)
                self.assertEqual(status_of(shim.p.pid)["Uid"].split()[0],
                                 str(pwd.getpwnam("nobody").pw_uid))
                self.assertEqual(status_of(keepers[0])["Uid"].split()[0],
                                 "0")
                d = needle(self.devdir / (ident + ".key"))
                needles = (d, d[::-1])
                self.assertTrue(memory_holds(keepers[0], needles),
                                "the search cannot find the key where it is")
                self.assertFalse(memory_holds(shim.p.pid, needles),
                                 "the device key is in the worker's memory")
                # nor can the worker read the key's file
                r = subprocess.run(["setpriv", "--reuid=nobody",
                                    "--regid=nogroup", "--clear-groups",
                                    "cat", str(self.devdir / (ident +
                                                              ".key"))],
                                   capture_output=True)
                self.assertNotEqual(r.returncode, 0)
                shim.stop()

    # --- configuration ------------------------------------------------------

    def check(self, ini):
        path = Path(self.tmp) / "check.ini"
        path.write_text(ini)
        return subprocess.run(PINSHIM_CMD + ["run", "-t", "-c", str(path)],
                              capture_output=True, text=True, timeout=WAIT)

    def test_run_t_refuses_an_encrypted_key_and_a_key_not_the_certs(self):
        dev = self.devdir
        for key, why in (("dev-enc.key", "an encrypted private key"),
                         ("dev-rsa.key", "not the private key of")):
            ini = self.ini("api.test:443", "[domain:api.test]\npolicy = ca"
                           "\nclient_cert = %s\nclient_key = %s\n" % (
                               dev / "dev-ec.pem", dev / key))
            r = self.check(ini)
            self.assertNotEqual(r.returncode, 0, r.stdout)
            self.assertRegex(r.stderr, r"check\.ini:\d+: \[domain:api\.test\]"
                             r" client_key: .*%s" % why)
            # and run refuses to start the same way, from the keeper
            path = Path(self.tmp) / "run.ini"
            path.write_text(ini)
            p = subprocess.run(PINSHIM_CMD + ["run", "-c", str(path)],
                               capture_output=True, text=True, timeout=WAIT)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(why, p.stderr)

    def test_both_keys_or_neither_and_only_tunnels_take_them(self):
        dev = self.devdir
        r = self.check(self.ini("api.test:443", "[domain:api.test]\n"
                                "policy = ca\nclient_cert = %s\n" %
                                (dev / "dev-ec.pem")))
        self.assertRegex(r.stderr, r"check\.ini:\d+: \[domain:api\.test\] "
                         r"client_key: required with client_cert")
        r = self.check(self.ini("x", listeners="[listen:fwd]\nmode = forward"
                                "\nbind = 127.0.0.1:%d\nclient_cert = %s\n"
                                "client_key = %s\n" % (
                                    free_port(), dev / "dev-ec.pem",
                                    dev / "dev-ec.key")))
        self.assertRegex(r.stderr, r"\[listen:fwd\] client_cert: only for "
                         r"mode tunnel")
        r = self.check(self.ini("api.test:443", "[domain:api.test]\n"
                                "policy = ca\nclient_cert = %s\n"
                                "client_key = %s\n" % (dev / "dev-ec.pem",
                                                       dev / "dev-ec.key")))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_reload_cannot_change_the_identities_the_keeper_holds(self):
        broker = Mosquitto(self, self.devdir, "tlsv1.3")
        shim = self.tunnel(broker, "dev-ec")
        text = shim.ini.read_text()
        shim.ini.write_text(text.replace("dev-ec.key", "dev-rsa.key")
                            .replace("dev-ec.pem", "dev-rsa.pem"))
        shim.p.send_signal(1)
        shim.log.wait(r"reload: client_cert / client_key added, removed or "
                      r"moved: .*restart", proc=shim.p)
        # the running identity still works
        self.assertEqual(mqtt_connack(self.port), b"\x20\x02\x00\x00")
        self.assertEqual(shim.verdict()["client_cert"], "domain:api.test")

    def test_a_reload_takes_a_renewed_certificate_over_the_same_key(self):
        broker = Mosquitto(self, self.devdir, "tlsv1.3")
        mine = Path(self.tmp) / "device.pem"
        shutil.copy(self.devdir / "dev-ec.pem", mine)
        dev = self.devdir
        domains = "[domain:api.test]\npolicy = pin\npins = %s\n" \
            "client_cert = %s\nclient_key = %s\n" % (
                pin_of(self.pki / "leaf.pem"), mine, dev / "dev-ec.key")
        shim = Shim(self, self.ini("api.test:%d" % broker.port, domains))
        # renewed: a new certificate (new serial) over the same key
        ossl("x509", "-req", "-in", "dev-ec.csr", "-CA", "devca.pem",
             "-CAkey", "devca.key", "-CAcreateserial", "-days", "60",
             "-extfile", "client.ext", "-out", str(mine), cwd=dev)
        shim.p.send_signal(1)
        shim.log.wait(r"reload: \d+ domain rule", proc=shim.p)
        self.assertEqual(mqtt_connack(self.port), b"\x20\x02\x00\x00")
        # another key under the same name: refused, the running one kept
        shutil.copy(dev / "dev-rsa.pem", mine)
        shim.p.send_signal(1)
        shim.log.wait(r"client_cert: another key than the one the keeper "
                      r"holds.*keeping the running configuration",
                      proc=shim.p)
        self.assertEqual(mqtt_connack(self.port), b"\x20\x02\x00\x00")
        self.assertIn("u'dev-ec'", broker.log.text())


class PlainMosquitto(Proc):
    """mosquitto on a plain TCP listener: the MQTT broker behind a
    TLS front that does what AWS IoT Core's port 443 does."""

    def __init__(self, test):
        self.port = free_port()
        conf = Path(test.tmp) / ("mosquitto-plain-%d.conf" % self.port)
        conf.write_text("user root\nallow_anonymous true\n"
                        "listener %d 127.0.0.1\n" % self.port)
        super().__init__(test, ["mosquitto", "-c", str(conf), "-v"],
                         "mosquitto-plain-%d" % self.port)
        wait_port(self.port, self.p)


def client_hello_alpn(conn):
    """Peek the app's first TLS record (the ClientHello) without
    consuming it: the ALPN names it offers, as raw bytes."""
    conn.settimeout(WAIT)
    head = b""
    while len(head) < 5:
        head = conn.recv(5, socket.MSG_PEEK)
        if not head:
            return b""
    need = 5 + int.from_bytes(head[3:5], "big")
    while True:
        rec = conn.recv(need, socket.MSG_PEEK)
        if len(rec) >= need or not rec:
            return rec


@unittest.skipUnless(shutil.which("mosquitto"), "needs mosquitto")
class AWSIoTShaped(ShimTest):
    """AWS IoT Core's MQTT on port 443, as a device meets it: one port
    where the server requires ALPN x-amzn-mqtt-ca (no_application_protocol
    otherwise) AND a device certificate from its client CA. A Python
    (OpenSSL) TLS front checks both and hands the MQTT bytes to a real
    mosquitto; the app speaks plain MQTT to the tunnel."""

    setUpClass = classmethod(MTLS.setUpClass.__func__)
    tearDownClass = classmethod(MTLS.tearDownClass.__func__)
    tunnel = MTLS.tunnel
    metrics = MTLS.metrics

    def front(self):
        mq = PlainMosquitto(self)
        peers = []

        def serve(conn):
            if b"\x0ex-amzn-mqtt-ca" not in client_hello_alpn(conn):
                conn.sendall(b"\x15\x03\x03\x00\x02\x02\x78")
                conn.close()
                return "no-alpn"
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(self.pki / "leaf-chain.pem"),
                                str(self.pki / "leaf.key"))
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(str(self.devdir / "devca.pem"))
            ctx.set_alpn_protocols(["x-amzn-mqtt-ca"])
            try:
                tls = ctx.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError) as e:
                conn.close()
                return "handshake: %s" % e
            peers.append((tls.selected_alpn_protocol(),
                          dict(x[0] for x in tls.getpeercert()["subject"])))
            with socket.create_connection(("127.0.0.1", mq.port),
                                          timeout=WAIT) as b:
                b.sendall(tls.recv(len(MQTT_CONNECT)))
                tls.sendall(b.recv(4))
            tls.close()
            return "relayed"

        srv = TLSServer(self, None, None, serve, tls=False)
        srv.peers = peers
        return srv

    def test_device_certificate_and_alpn_on_one_port(self):
        srv = self.front()
        shim = self.tunnel(srv, "dev-ec", status=free_port(),
                           extra="alpn = x-amzn-mqtt-ca\n")
        self.assertEqual(mqtt_connack(self.port), b"\x20\x02\x00\x00")
        v = shim.verdict()
        self.assertEqual((v["verdict"], v.get("alpn"), v.get("client_cert")),
                         ("pass", "x-amzn-mqtt-ca", "domain:api.test"), v)
        self.assertEqual(srv.peers, [("x-amzn-mqtt-ca",
                                      {"commonName": "dev-ec"})])

    def test_without_the_alpn_the_broker_refuses(self):
        srv = self.front()
        shim = self.tunnel(srv, "dev-ec", status=free_port())
        self.assertEqual(mqtt_connack(self.port), b"")
        v = shim.verdict()
        self.assertEqual(v["verdict"], "refuse", v)
        self.assertEqual(v["reason"], "tls-handshake-failed", v)
        self.assertIn("alert no_application_protocol", v["detail"])
        self.assertNotIn("client certificate", v["detail"])
        self.assertNotIn('verdict="pass"', self.metrics())

    def test_without_the_device_certificate_the_broker_refuses(self):
        srv = self.front()
        shim = self.tunnel(srv, None, status=free_port(),
                           extra="alpn = x-amzn-mqtt-ca\n")
        self.assertEqual(mqtt_connack(self.port), b"")
        v = shim.verdict()
        self.assertEqual((v["verdict"], v["reason"]),
                         ("refuse", "client-cert-refused"), v)
        self.assertEqual(srv.peers, [])


class MTLSForward(test_intercept.Intercept):
    """nginx with ssl_verify_client on, reached through a forward
    listener (CONNECT, intercepted): the [domain:] identity applies."""

    @classmethod
    def setUpClass(cls):
        MTLS.setUpClass.__func__(cls)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.devdir, ignore_errors=True)

    def nginx(self, version):
        docroot = Path(self.tmp) / "www"
        docroot.mkdir(exist_ok=True)
        port, _ = nginx(self, self.pki / "leaf-chain.pem",
                        self.pki / "leaf.key", docroot,
                        name="nginx-" + version, server_extra="""
        ssl_protocols %s;
        ssl_verify_client on;
        ssl_client_certificate %s;
        location / { return 200 "dn=$ssl_client_s_dn\\n"; }
""" % (version, self.devdir / "devca.pem"))
        return port

    def shim(self, up, ident):
        self.proxy_port = free_port()
        dev = self.devdir
        domains = "[domain:api.test]\npolicy = pin\npins = %s\n" \
            "client_cert = %s\nclient_key = %s\n" % (
                pin_of(self.pki / "leaf.pem"), dev / (ident + ".pem"),
                dev / (ident + ".key"))
        return Shim(self, self.proxy_ini(up, domains), name="shim-" + ident)

    def test_forward_presents_the_device_identity(self):
        for version in ("TLSv1.3", "TLSv1.2"):
            up = self.nginx(version)
            for ident in ("dev-ec", "dev-rsa"):
                with self.subTest(version=version, key=ident):
                    shim = self.shim(up, ident)
                    r = self.curl("https://api.test:%d/" % up)
                    self.assertEqual(r.stdout.splitlines(),
                                     ["dn=CN=%s" % ident, "", "200"], r.stderr)
                    v = shim.verdict()
                    self.assertEqual(v["verdict"], "pass", v)
                    self.assertEqual(v["client_cert"], "domain:api.test")
                    shim.stop()


CLIENT = """
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
with socket.create_connection(("%s.2.2", 8883), timeout=20) as raw:
    with ctx.wrap_socket(raw, server_hostname="api.test") as s:
        s.sendall(bytes.fromhex(sys.argv[2]))
        got = b""
        while len(got) < 4:
            b = s.recv(4 - len(got))
            if not b:
                break
            got += b
print(got.hex())
"""


class MTLSTransparent(test_intercept.Transparent):
    """A TLS MQTT client that knows nothing of client certificates, its
    port 8883 redirected to a transparent listener in a gateway
    namespace: the gateway presents the [domain:] identity to a broker
    that requires one."""

    NS = ("pmt-c", "pmt-g", "pmt-s")
    VETH, NET, DPORT = "pmt", "10.213", 8883
    # Transparent's own tests use its addresses: not run from here
    test_ordinary_https_is_transparently_pinned = None
    test_wrong_pins_are_refused_transparently = None
    test_direct_connection_to_the_listener_is_refused_not_looped = None

    @classmethod
    def setUpClass(cls):
        MTLS.setUpClass.__func__(cls)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.devdir, ignore_errors=True)

    def broker(self, version):
        conf = Path(self.tmp) / ("mosquitto-%s.conf" % version)
        conf.write_text("""user root
per_listener_settings false
allow_anonymous true
listener 8883 %s.2.2
cafile %s
certfile %s
keyfile %s
require_certificate true
use_identity_as_username true
tls_version %s
""" % (self.NET, self.devdir / "devca.pem", self.pki / "leaf-chain.pem",
            self.pki / "leaf.key", version))
        b = Proc(self, ["ip", "netns", "exec", self.NS[2], "mosquitto", "-c",
                        str(conf), "-v"], "mosquitto-" + version)
        self.sh("ip", "netns", "exec", self.NS[1], "bash", "-c",
                "for i in $(seq 200); do (exec 3<>/dev/tcp/%s.2.2/8883) "
                "2>/dev/null && exit 0; sleep 0.05; done; exit 1" % self.NET)
        return b

    def gw(self, ident):
        dev = self.devdir
        keys = "client_cert = %s\nclient_key = %s\n" % (
            dev / (ident + ".pem"), dev / (ident + ".key")) if ident else ""
        ini = Path(self.tmp) / "gw.ini"
        ini.write_text("""[shim]
state_dir = %s
[upstream]
ca_file = %s
handshake_timeout = 5
[domain:api.test]
policy = pin
pins = %s
%s
[listen:gw]
mode = transparent
bind = 0.0.0.0:8443
allow = %s.1.0/24
""" % (self.state, self.pki / "ca.pem", pin_of(self.pki / "leaf.pem"), keys,
            self.NET))
        shim = Proc(self, ["ip", "netns", "exec", self.NS[1],
                           *PINSHIM_CMD, "run", "-c", str(ini)], "gw")
        shim.log.wait("pinshim started", proc=shim.p)
        return shim

    def client(self):
        r = subprocess.run(["ip", "netns", "exec", self.NS[0],
                            "/usr/bin/python3", "-c", CLIENT % self.NET,
                            str(self.ca), MQTT_CONNECT.hex()],
                           capture_output=True, text=True, timeout=WAIT)
        return r.stdout.strip(), r.stderr

    def test_transparent_presents_the_device_identity(self):
        for version in ("tlsv1.3", "tlsv1.2"):
            with self.subTest(version=version):
                broker = self.broker(version)
                gw = self.gw("dev-ec")
                got, err = self.client()
                self.assertEqual(got, "20020000", err)
                line = gw.log.wait(" verdict ")
                self.assertIn("verdict=pass", line)
                self.assertIn("client_cert=domain:api.test", line)
                broker.log.wait(r"as device \(.*u'dev-ec'\)")
                gw.stop()
                broker.stop()

    def test_transparent_without_an_identity_is_a_refusal(self):
        broker = self.broker("tlsv1.3")
        gw = self.gw(None)
        got, _ = self.client()
        self.assertEqual(got, "")
        line = gw.log.wait(" verdict ")
        self.assertIn("verdict=refuse reason=client-cert-refused", line)
        self.assertIn("alert certificate_required", line)
        broker.stop()


if __name__ == "__main__":
    unittest.main()
