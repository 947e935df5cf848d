"""Fleet-ready status: the build and device gauges, byte counters that move
while a relay is open, the "refusing" health and `pinshim status`'s exit
codes, --addr and --json, a half-edited INI beside a running daemon, and
device_id checked as UTF-8 text at `run -t`."""

import json
import socket
import subprocess
import time
from pathlib import Path

from harness import (PINSHIM_CMD, WAIT, Shim, ShimTest, free_port, pin_of,
                     refused_silently, s_server)
from test_feed import UNRELATED, FeedTest, run
from test_status import get, scrape, value


def status_cli(*args):
    return subprocess.run(PINSHIM_CMD + ["status"] + list(args),
                          capture_output=True, text=True)


def line(s, data):
    """Send one line through an open tunnel, return the echo (s_server
    -rev answers each line reversed)."""
    s.sendall(data + b"\n")
    got = b""
    while not got.endswith(b"\n"):
        chunk = s.recv(1000)
        if not chunk:
            break
        got += chunk
    return got


class FleetBase(ShimTest):

    def two_listeners(self, device_id="gw-0042"):
        """ok: pinned to the leaf (passes); wrong: pinned elsewhere."""
        up, _ = s_server(self, self.pki / "leaf.pem", self.pki / "leaf.key",
                         self.pki / "inter.pem", extra=("-rev",))
        self.sport = free_port()
        self.ports = {n: free_port() for n in ("ok", "wrong")}
        listeners = "".join(
            "[listen:%s]\nmode = tunnel\nbind = 127.0.0.1:%d\n"
            "connect = %s:%d\n\n" % (n, self.ports[n], host, up)
            for n, host in (("ok", "api.test"), ("wrong", "www.api.test")))
        doms = self.domain("api.test", [pin_of(self.pki / "leaf.pem")]) + \
            self.domain("www.api.test", [UNRELATED])
        shim = "[shim]\nstatus = 127.0.0.1:%d\n" % self.sport
        if device_id is not None:
            shim += "device_id = %s\n" % device_id
        return shim + "\n" + self.ini("-", doms, listeners=listeners)


class FleetStatus(FleetBase):

    def test_build_and_device_gauges(self):
        shim = Shim(self, self.two_listeners(device_id='gw "0042" \\ é'))
        shim.log.wait("status: serving")
        m = scrape(self.sport)
        info = [k for k in m if k[0] == "pinshim_build_info"]
        self.assertEqual(len(info), 1)
        labels = dict(info[0][1])
        self.assertRegex(labels["version"], r"^\d+\.\d+")
        self.assertEqual(labels["wolfssl"], "5.7.2")
        self.assertRegex(labels["libevent"], r"^2\.\d+\.\d+")
        self.assertEqual(m[info[0]], 1)
        # the label value escaped as the text format says, read back whole
        self.assertEqual(value(m, "pinshim_device_info",
                               device_id='gw "0042" \\ é'), 1)
        text = get(self.sport, "/metrics")[2]
        r = subprocess.run(["promtool", "check", "metrics"], input=text,
                           capture_output=True)
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        st = json.loads(get(self.sport, "/status")[2])
        self.assertEqual(st["device_id"], 'gw "0042" \\ é')

    def test_no_device_id_no_device_gauge(self):
        shim = Shim(self, self.two_listeners(device_id=None))
        shim.log.wait("status: serving")
        m = scrape(self.sport)
        self.assertFalse([k for k in m if k[0] == "pinshim_device_info"])

    def test_byte_counters_move_while_the_relay_is_open(self):
        shim = Shim(self, self.two_listeners())
        shim.log.wait("status: serving")
        bytes_ = lambda d: value(scrape(self.sport),
                                 "pinshim_relayed_bytes_total",
                                 listener="ok", direction=d)
        with socket.create_connection(("127.0.0.1", self.ports["ok"]),
                                      timeout=WAIT) as s:
            self.assertEqual(line(s, b"x" * 999), b"x" * 999 + b"\n")
            self.assertEqual(shim.verdict()["verdict"], "pass")
            self.assertEqual((bytes_("up"), bytes_("down")), (1000, 1000))
            self.assertEqual(line(s, b"ab"), b"ba\n")
            self.assertEqual((bytes_("up"), bytes_("down")), (1003, 1003))
            self.assertEqual(value(scrape(self.sport),
                                   "pinshim_connections_active",
                                   listener="ok"), 1)
        c = shim.closed()
        self.assertEqual((c["up"], c["down"]), ("1003", "1003"))
        # closing adds nothing twice
        self.assertEqual((bytes_("up"), bytes_("down")), (1003, 1003))

    def test_refusing_health_and_status_exit_codes(self):
        shim = Shim(self, self.two_listeners())
        shim.log.wait("status: serving")
        r = status_cli("-c", str(shim.ini))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(r.stdout.endswith("health: ok\n"), r.stdout)

        # every connection to a pinned host refused, none passed
        self.assertEqual(refused_silently(self.ports["wrong"]), b"")
        self.assertEqual(shim.verdict()["reason"], "pin-mismatch")
        st = json.loads(get(self.sport, "/status")[2])
        self.assertEqual(st["health"], "refusing")
        self.assertIsNotNone(st["pinned"]["last_refusal"])
        self.assertIsNone(st["pinned"]["last_pass"])
        self.assertEqual(st["pinned"]["refusing_window_seconds"], 300)
        m = scrape(self.sport)
        self.assertEqual(value(m, "pinshim_pinned_refusing"), 1)
        self.assertAlmostEqual(value(
            m, "pinshim_pinned_last_refusal_timestamp_seconds"),
            time.time(), delta=60)
        self.assertIsNone(value(
            m, "pinshim_pinned_last_pass_timestamp_seconds"))
        r = status_cli("-c", str(shim.ini))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("REFUSING: pinned hosts refused", r.stdout)
        self.assertTrue(r.stdout.endswith("health: refusing\n"), r.stdout)
        # --addr without any INI; --json: the document as served
        r = status_cli("--addr", "127.0.0.1:%d" % self.sport, "--json")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(json.loads(r.stdout)["health"], "refusing")

        # a pass to a pinned host: the pins work again
        with socket.create_connection(("127.0.0.1", self.ports["ok"]),
                                      timeout=WAIT) as s:
            self.assertEqual(line(s, b"ping"), b"gnip\n")
        self.assertEqual(shim.verdict()["verdict"], "pass")
        r = status_cli("--addr", "127.0.0.1:%d" % self.sport, "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        st = json.loads(r.stdout)
        self.assertEqual(st["health"], "ok")
        self.assertIsNotNone(st["pinned"]["last_pass"])
        self.assertEqual(value(scrape(self.sport), "pinshim_pinned_refusing"),
                         0)
        r = status_cli("--addr", "127.0.0.1:%d" % self.sport)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.endswith("health: ok\n"), r.stdout)

    def test_blocked_hosts_are_not_refused_pinned_traffic(self):
        ini = self.two_listeners() + self.ini_blocked()
        shim = Shim(self, ini)
        shim.log.wait("status: serving")
        self.assertEqual(refused_silently(self.blocked), b"")
        self.assertEqual(shim.verdict()["reason"], "blocked")
        self.assertEqual(json.loads(get(self.sport, "/status")[2])["health"],
                         "ok")

    def ini_blocked(self):
        self.blocked = free_port()
        return "\n[listen:blocked]\nmode = tunnel\nbind = 127.0.0.1:%d\n" \
            "connect = blocked.test:1\n" % self.blocked

    def test_status_reads_only_its_key_from_a_half_edited_ini(self):
        shim = Shim(self, self.two_listeners())
        shim.log.wait("status: serving")
        edited = Path(self.tmp) / "edited.ini"
        edited.write_text(shim.ini.read_text().replace(
            "[upstream]", "[upstream]\nbogus_key = 1\nthis is not ini\n"
            "[listen:half]\nmode = tunnl\n\n[upstream2]") + "\nca_file = \n")
        r = subprocess.run(PINSHIM_CMD + ["run", "-t", "-c", str(edited)],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)        # the file is broken ...
        r = status_cli("-c", str(edited))        # ... the daemon is fine
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(r.stdout.endswith("health: ok\n"), r.stdout)
        # the one key it reads is still checked, with its line
        bad = Path(self.tmp) / "bad.ini"
        bad.write_text("[shim]\nstatus = localhost\n")
        r = status_cli("-c", str(bad))
        self.assertEqual(r.returncode, 2)
        self.assertIn("%s:2: [shim] status: not ADDRESS:PORT" % bad, r.stderr)
        r = status_cli("-c", str(Path(self.tmp) / "nope.ini"))
        self.assertEqual(r.returncode, 2)
        none = Path(self.tmp) / "none.ini"
        none.write_text("[shim]\ndevice_id = x\n")
        r = status_cli("-c", str(none))
        self.assertEqual(r.returncode, 2)
        self.assertIn("no [shim] status", r.stderr)
        r = status_cli("--addr", "nowhere")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--addr nowhere: not ADDRESS:PORT", r.stderr)
        r = status_cli("-c", str(bad), "--addr", "127.0.0.1:1")
        self.assertEqual(r.returncode, 2)        # one or the other
        shim.stop()
        r = status_cli("--addr", "127.0.0.1:%d" % self.sport)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot reach the daemon", r.stderr)

    def test_run_t_refuses_a_device_id_that_is_not_utf8_text(self):
        for bad in (b"gw-\xff\xfe", b"gw-\xc0\xaf", b"gw-\x1b[2J",
                    b"gw-\xc2\x85"):
            ini = Path(self.tmp) / "bad.ini"
            ini.write_bytes(b"[shim]\ndevice_id = " + bad + b"\n\n" +
                            self.ini("api.test:1").encode())
            r = subprocess.run(PINSHIM_CMD + ["run", "-t", "-c", str(ini)],
                               capture_output=True)
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn(b"bad.ini:2: [shim] device_id: not printable "
                          b"UTF-8 text", r.stderr, bad)
        ini.write_bytes("[shim]\ndevice_id = Gerät-7 ✓\n\n".encode() +
                        self.ini("api.test:1").encode())
        r = subprocess.run(PINSHIM_CMD + ["run", "-t", "-c", str(ini)],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)


class LogFormat(ShimTest):

    def test_json_lines_parse_with_the_verdict_fields(self):
        up, _ = s_server(self, self.pki / "leaf.pem", self.pki / "leaf.key",
                         self.pki / "inter.pem", extra=("-rev",))
        self.wrong = free_port()
        listeners = "".join(
            "[listen:%s]\nmode = tunnel\nbind = 127.0.0.1:%d\n"
            "connect = %s:%d\n\n" % (n, p, host, up)
            for n, p, host in (("ok", free_port(), "api.test"),
                               ("wrong", self.wrong, "www.api.test")))
        ini = "[shim]\nlog_format = json\n\n" + self.ini(
            "-", self.domain("api.test", [pin_of(self.pki / "leaf.pem")]) +
            self.domain("www.api.test", [UNRELATED]), listeners=listeners)
        shim = Shim(self, ini)
        ok = [l for l in ini.splitlines() if l.startswith("bind")][0]
        port = int(ok.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port),
                                      timeout=WAIT) as s:
            self.assertEqual(line(s, b"ping"), b"gnip\n")
        shim.log.wait(r'"event":"close"')
        self.assertEqual(refused_silently(self.wrong), b"")
        shim.log.wait(r'"event":"verdict".*"verdict":"refuse"')
        shim.stop()
        lines = [json.loads(l) for l in shim.log.text().splitlines()]
        self.assertTrue(lines)
        for l in lines:          # RFC 3339 / RFC 5424 time, with the zone
            self.assertRegex(l["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"
                             r"\.\d{3}Z$")
            self.assertIn(l["level"], ("error", "warn", "info", "debug"))
            self.assertEqual(l["pid"], shim.p.pid)
        started = [l for l in lines if "pinshim started" in l["msg"]]
        self.assertEqual(len(started), 1)
        verdicts = [l for l in lines if l.get("event") == "verdict"]
        self.assertEqual([v["verdict"] for v in verdicts],
                         ["pass", "refuse"])
        self.assertEqual(verdicts[0]["host"], "api.test:%d" % up)
        self.assertEqual(verdicts[1]["reason"], "pin-mismatch")
        self.assertEqual(verdicts[1]["presented"].split(",")[0],
                         pin_of(self.pki / "leaf.pem"))
        self.assertTrue(verdicts[1]["msg"].startswith("verdict listener="
                                                      "wrong "))
        close = [l for l in lines if l.get("event") == "close"][0]
        self.assertEqual((close["up"], close["down"]), (5, 5))
        self.assertEqual(close["listener"], "ok")

    def test_log_format_is_checked(self):
        ini = Path(self.tmp) / "bad.ini"
        ini.write_text("[shim]\nlog_format = yaml\n\n" +
                       self.ini("api.test:1"))
        r = subprocess.run(PINSHIM_CMD + ["run", "-t", "-c", str(ini)],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad.ini:2: [shim] log_format: not one of text, json",
                      r.stderr)


class KeysAsPeopleHaveThem(FeedTest):
    """Ed25519 keys made by openssl: a PEM public key for --pubkey and
    [feed] public_key, and `feed pubkey` printing their ed25519: form."""

    def openssl_key(self, name, algorithm="ed25519"):
        t = Path(self.tmp)
        argv = ["openssl", "genpkey", "-algorithm", algorithm, "-out",
                str(t / ("%s.pem" % name))]
        if algorithm == "EC":
            argv += ["-pkeyopt", "ec_paramgen_curve:P-256"]
        subprocess.run(argv, check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", str(t / ("%s.pem" % name)),
                        "-pubout", "-out", str(t / ("%s.pub.pem" % name))],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "pkey", "-pubin", "-in",
                              str(t / ("%s.pub.pem" % name)), "-outform",
                              "DER"], check=True,
                             capture_output=True).stdout
        import base64
        return t / ("%s.pem" % name), t / ("%s.pub.pem" % name), \
            "ed25519:" + base64.b64encode(der[-32:]).decode()

    def test_feed_pubkey_prints_the_ed25519_form(self):
        priv, pub, want = self.openssl_key("o")
        pubfile = Path(self.tmp) / "o.pub"
        pubfile.write_text(want + "\r\n")
        for f in (priv, pub, pubfile):
            r = run("feed", "pubkey", f)
            self.assertEqual((r.returncode, r.stdout), (0, want + "\n"),
                             r.stderr)
        # a pipe reads once: the key is decoded from what was read
        r = subprocess.run(PINSHIM_CMD + ["feed", "pubkey", "/dev/stdin"],
                           input=pub.read_text(), capture_output=True,
                           text=True)
        self.assertEqual((r.returncode, r.stdout), (0, want + "\n"),
                         r.stderr)
        # what keygen wrote reads back as its .pub says
        r = run("feed", "pubkey", Path(self.tmp) / "k1.key")
        self.assertEqual((r.returncode, r.stdout), (0, self.k1 + "\n"))
        ecpriv, ecpub, _ = self.openssl_key("ec", "EC")
        r = run("feed", "pubkey", ecpub)
        self.assertEqual(r.returncode, 1)
        self.assertIn("a PEM public key, but not an Ed25519 one", r.stderr)
        r = run("feed", "pubkey", ecpriv)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not an Ed25519 private key", r.stderr)
        junk = Path(self.tmp) / "junk"
        junk.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n")
        r = run("feed", "pubkey", junk)
        self.assertEqual(r.returncode, 1)
        self.assertIn("nor a PEM public key", r.stderr)
        r = run("feed", "pubkey")
        self.assertEqual(r.returncode, 2)

    def test_pem_public_key_verifies_and_configures_a_device(self):
        priv, pub, want = self.openssl_key("o")
        body = self.body(1, [self.leaf])
        src = Path(self.tmp) / "o.body"
        src.write_text(body)
        out = Path(self.tmp) / "pins.feed"
        r = run("feed", "sign", "--key", priv, src, "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run("feed", "verify", "--pubkey", pub, out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = run("feed", "verify", "--pubkey", self.k1, out)
        self.assertEqual(r.returncode, 1)     # another key: refused
        (self.www / "pins.feed").write_bytes(out.read_bytes())
        up, _ = self.api()
        shim = Shim(self, self.feed_ini(up, keys=[str(pub)]))
        shim.log.wait("feed: version 1 in force")
        self.passes(shim)
        # an EC key, or a relative path, is refused with its line
        _, ecpub, _ = self.openssl_key("ec", "EC")
        for key, why in ((str(ecpub), "%s: a PEM public key, but not an "
                          "Ed25519 one" % ecpub),
                         (str(Path(self.tmp) / "none.pem"),
                          "none.pem: No such file"),
                         ("o.pub.pem", "not an ed25519:BASE64 public key")):
            ini = Path(self.tmp) / "bad.ini"
            ini.write_text(self.feed_ini(up, keys=[key]))
            r = run("run", "-t", "-c", ini)
            self.assertEqual(r.returncode, 2, key)
            self.assertRegex(r.stderr, r"bad\.ini:\d+: \[feed\] public_key: ")
            self.assertIn(why, r.stderr)


# --- a remote_write receiver, stdlib only ---------------------------------

def unsnappy(data):
    """Snappy's raw block format (what remote_write sends): a varint
    length, then literals and back-references."""
    def varint(b, i):
        n = shift = 0
        while True:
            n |= (b[i] & 0x7f) << shift
            i += 1
            if b[i - 1] < 0x80:
                return n, i
            shift += 7
    size, i = varint(data, 0)
    out = bytearray()
    while i < len(data):
        tag = data[i]
        i += 1
        kind = tag & 3
        if kind == 0:                            # literal
            n = tag >> 2
            if n >= 60:
                k = n - 59
                n = int.from_bytes(data[i:i + k], "little")
                i += k
            n += 1
            out += data[i:i + n]
            i += n
            continue
        if kind == 1:
            n = ((tag >> 2) & 7) + 4
            off = ((tag >> 5) << 8) | data[i]
            i += 1
        else:
            k = 2 if kind == 2 else 4
            n = (tag >> 2) + 1
            off = int.from_bytes(data[i:i + k], "little")
            i += k
        for _ in range(n):                       # may overlap itself
            out.append(out[-off])
    assert len(out) == size, (len(out), size)
    return bytes(out)


def protobuf(data):
    """Protocol buffers' wire format: [(field, value)], a length-delimited
    value as bytes, a fixed64 as 8 bytes."""
    out, i = [], 0
    while i < len(data):
        key = shift = 0
        while True:
            key |= (data[i] & 0x7f) << shift
            i += 1
            if data[i - 1] < 0x80:
                break
            shift += 7
        field, wire = key >> 3, key & 7
        if wire == 0:
            v = shift = 0
            while True:
                v |= (data[i] & 0x7f) << shift
                i += 1
                if data[i - 1] < 0x80:
                    break
                shift += 7
        elif wire == 1:
            v, i = data[i:i + 8], i + 8
        elif wire == 2:
            n = shift = 0
            while True:
                n |= (data[i] & 0x7f) << shift
                i += 1
                if data[i - 1] < 0x80:
                    break
                shift += 7
            v, i = data[i:i + n], i + n
        else:
            raise AssertionError("wire type %d" % wire)
        out.append((field, v))
    return out


def write_request(body):
    """prometheus.WriteRequest -> [(labels, [values])]."""
    import struct
    series = []
    for f, ts in protobuf(body):
        if f != 1:                   # 1: timeseries (3: metadata)
            continue
        labels, values = {}, []
        for g, v in protobuf(ts):
            if g == 1:               # Label {name = 1, value = 2}
                lab = dict(protobuf(v))
                labels[lab[1].decode()] = lab[2].decode()
            elif g == 2:             # Sample {double value = 1, ...}
                raw = dict(protobuf(v)).get(1, bytes(8))   # 0: omitted
                values.append(struct.unpack("<d", raw)[0])
        series.append((labels, values))
    return series


class Receiver:
    """Records every POST (headers, raw body) it gets."""

    def __init__(self, test):
        import http.server
        import threading
        self.posts = []
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                rec.posts.append((dict(self.headers), self.rfile.read(n)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        t.start()
        test.addCleanup(self.srv.server_close)
        test.addCleanup(self.srv.shutdown)


class PrometheusAgent(FleetBase):
    """conf/prometheus-agent.yml as shipped (its target, receiver and
    intervals pointed at the test's) scrapes a live pinshim and pushes
    the samples to a remote_write receiver."""

    def test_agent_ships_the_gauges_by_remote_write(self):
        import shutil
        from harness import ROOT, Proc, wait_for
        if shutil.which("prometheus") is None:
            self.skipTest("prometheus not installed (tests/deps.sh test)")
        shim = Shim(self, self.two_listeners())
        shim.log.wait("status: serving")
        rx = Receiver(self)
        example = (ROOT / "conf" / "prometheus-agent.yml").read_text()
        conf = example.replace('"127.0.0.1:9090"', '"127.0.0.1:%d"' %
                               self.sport)
        conf = conf.replace("https://metrics.example.com/api/v1/write",
                            "http://127.0.0.1:%d/api/v1/write" % rx.port)
        conf = conf.replace("scrape_interval: 60s", "scrape_interval: 1s")
        conf = conf.replace("batch_send_deadline: 30s",
                            "batch_send_deadline: 1s")
        pw = Path(self.tmp) / "remote-write.password"
        pw.write_text("s3cret\n")
        conf = conf.replace("/etc/prometheus/remote-write.password", str(pw))
        self.assertNotEqual(conf, example)
        yml = Path(self.tmp) / "agent.yml"
        yml.write_text(conf)
        r = subprocess.run(["promtool", "check", "config", str(yml)],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        Proc(self, ["prometheus", "--enable-feature=agent",
                    "--config.file=%s" % yml,
                    "--storage.agent.path=%s" % (Path(self.tmp) / "agent"),
                    "--web.listen-address=127.0.0.1:%d" % free_port()],
             "prometheus")

        def shipped():
            for headers, body in rx.posts:
                for labels, values in write_request(unsnappy(body)):
                    if labels.get("__name__") == "pinshim_device_info":
                        return headers, labels, values
            return None
        wait_for(lambda: shipped() is not None,
                 "pinshim_device_info by remote_write", timeout=60)
        headers, labels, values = shipped()
        self.assertEqual(headers["Content-Encoding"], "snappy")
        self.assertEqual(headers["Content-Type"], "application/x-protobuf")
        self.assertEqual(headers["X-Prometheus-Remote-Write-Version"],
                         "0.1.0")
        self.assertTrue(headers["Authorization"].startswith("Basic "))
        self.assertEqual(labels["device_id"], "gw-0042")
        self.assertEqual(labels["job"], "pinshim")
        self.assertEqual(labels["instance"], "127.0.0.1:%d" % self.sport)
        self.assertEqual(values[0], 1.0)
        # the build gauge and the external label on every series
        series = [s for _, b in rx.posts for s in
                  write_request(unsnappy(b))]
        build = [l for l, _ in series if l["__name__"] ==
                 "pinshim_build_info"]
        self.assertTrue(build)
        self.assertEqual(build[0]["wolfssl"], "5.7.2")
        self.assertTrue(all(l.get("device_id") == "gw-0042"
                            for l, _ in series))
