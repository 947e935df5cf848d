"""Pin-failure reports as collectors take them: W3C Reporting API batches
(application/reports+json) whose every element is checked against
docs/report.schema.json, the served chain and the expected pins in them,
retries across a collector that is down or answers 503, and the RFC 7469
format."""

import http.server
import json
import re
import socket
import ssl
import threading
from pathlib import Path

from harness import (ROOT, WAIT, Shim, free_port, pin_of, refused_silently,
                     wait_for)
from test_feed import FeedTest, run
from test_status import scrape, value

SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())
HOSTS = ["h%d.api.test" % i for i in range(1, 5)]


def validate(value, schema, where="$"):
    """The subset of JSON Schema docs/report.schema.json uses; a list of
    what does not conform."""
    errs = []
    kinds = {"object": dict, "array": list, "string": str,
             "boolean": bool, "null": type(None)}

    def is_type(v, t):
        if t == "integer":
            return isinstance(v, int) and not isinstance(v, bool)
        return isinstance(v, kinds[t])

    t = schema.get("type")
    if t is not None:
        ts = t if isinstance(t, list) else [t]
        if not any(is_type(value, x) for x in ts):
            return ["%s: not %s: %r" % (where, t, value)]
    if "const" in schema and value != schema["const"]:
        errs.append("%s: not %r" % (where, schema["const"]))
    if "enum" in schema and value not in schema["enum"]:
        errs.append("%s: %r not in %r" % (where, value, schema["enum"]))
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errs.append("%s: %r does not match %s" % (where, value,
                                                      schema["pattern"]))
        if len(value) < schema.get("minLength", 0):
            errs.append("%s: too short" % where)
    if isinstance(value, int) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append("%s: below %d" % (where, schema["minimum"]))
        if "maximum" in schema and value > schema["maximum"]:
            errs.append("%s: above %d" % (where, schema["maximum"]))
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)):
            errs.append("%s: over %d items" % (where, schema["maxItems"]))
        for i, v in enumerate(value):
            errs += validate(v, schema.get("items", {}), "%s[%d]" % (where, i))
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            if k not in value:
                errs.append("%s: %s missing" % (where, k))
        for k, v in value.items():
            if k in props:
                errs += validate(v, props[k], "%s.%s" % (where, k))
            elif schema.get("additionalProperties") is False:
                errs.append("%s: %s not in the schema" % (where, k))
    return errs


class Collector:
    """A report collector: Python's http.server over TLS (the test PKI's
    feeds.api.test leaf), answering each POST with the next status of
    statuses (the last one repeats), recording (content-type, JSON)."""

    def __init__(self, test, statuses=(204,), port=0):
        self.posts = []
        self.statuses = list(statuses)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                data = self.rfile.read(n)
                status = outer.statuses.pop(0) if len(outer.statuses) > 1 \
                    else outer.statuses[0]
                if status < 300:
                    outer.posts.append((self.headers.get("Content-Type"),
                                        json.loads(data)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                                   Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(test.pki / "leaf-chain.pem"),
                            str(test.pki / "leaf.key"))
        self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever,
                                       daemon=True)
        self.thread.start()
        test.addCleanup(self.close)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()

    def reports(self):
        return [r for _, body in self.posts for r in body]


def pem_certs(path):
    text = Path(path).read_text()
    return re.findall(r"-----BEGIN CERTIFICATE-----\n.*?"
                      r"-----END CERTIFICATE-----\n", text, re.S)


class Reports(FeedTest):
    """A feed pinning *.api.test to the real leaf, a rogue server behind
    one tunnel listener per host h1..h4.api.test: every connection is a
    pin-failure report."""

    def setUp(self):
        super().setUp()
        self.hosts.write_text(self.hosts.read_text().rstrip("\n") + " " +
                              " ".join(HOSTS) + "\n")
        self.up, _ = self.api(leaf="rogue")
        self.ports = [free_port() for _ in HOSTS]

    def start(self, report_port, fmt=None, ini_domains=""):
        meta = "report_url = https://feeds.api.test:%d/r\n" % report_port
        if fmt:
            meta += "report_format = %s\n" % fmt
        self.publish(3, [self.leaf], meta=meta,
                     extra="\n[domain:*.api.test]\npins = %s\npolicy = pin\n"
                     % self.leaf)
        listeners = "".join(
            "[listen:t%d]\nmode = tunnel\nbind = 127.0.0.1:%d\n"
            "connect = %s:%d\n\n" % (i, port, host, self.up)
            for i, (host, port) in enumerate(zip(HOSTS, self.ports)))
        self.sport = free_port()
        shim = Shim(self, self.feed_ini(
            self.up, extra_shim="device_id = gw-9\nstatus = 127.0.0.1:%d"
            % self.sport).replace("[listen:api]", ini_domains + listeners +
                                  "[listen:api]"))
        shim.log.wait("feed: version 3 in force")
        return shim

    def refuse_all(self, shim, hosts=HOSTS):
        for i, host in enumerate(HOSTS):
            if host in hosts:
                self.port = self.ports[i]
                self.assertEqual(self.refused_on(shim, "t%d" % i), host)

    def refused_on(self, shim, listener):
        self.assertEqual(refused_silently(self.port), b"")
        v = shim.verdict(listener=listener)
        self.assertEqual((v["verdict"], v["reason"]),
                         ("refuse", "pin-mismatch"))
        return v["host"].rsplit(":", 1)[0]

    def served(self):
        """What rev_server presents: the rogue leaf, then inter.pem."""
        return pem_certs(self.pki / "rogue.pem") + \
            pem_certs(self.pki / "inter.pem")

    def metrics(self):
        m = scrape(self.sport)
        return {o: value(m, "pinshim_reports_total", outcome=o)
                for o in ("queued", "delivered", "failed", "suppressed")}

    def test_refusals_arrive_batched_with_chain_and_expected_pins(self):
        col = Collector(self)
        shim = self.start(col.port)
        self.refuse_all(shim)
        wait_for(lambda: len(col.reports()) == len(HOSTS),
                 "%d reports" % len(HOSTS))
        # 4 refusals in under the batch delay: fewer POSTs, each an array
        self.assertLess(len(col.posts), len(HOSTS), col.posts)
        for ctype, body in col.posts:
            self.assertEqual(ctype, "application/reports+json")
            self.assertIsInstance(body, list)
        served = self.served()
        seen = []
        for rep in col.reports():
            self.assertEqual(validate(rep, SCHEMA), [], rep)
            b = rep["body"]
            seen.append(b["host"])
            self.assertEqual(rep["url"], "https://%s:%d/" % (b["host"],
                                                             self.up))
            self.assertEqual((b["device_id"], b["verdict"], b["reason"],
                              b["rule"], b["feed_version"]),
                             ("gw-9", "refuse", "pin-mismatch", "*.api.test",
                              3))
            self.assertEqual(b["expected_pins"], [self.leaf])
            self.assertEqual(b["pins_source"], "feed")
            self.assertEqual(b["served_chain"], served)
            self.assertFalse(b["chain_truncated"])
            self.assertEqual(b["presented"][0],
                             pin_of(self.pki / "rogue.pem"))
            self.assertLess(rep["age"], WAIT * 1000)
        self.assertEqual(seen, HOSTS)           # in the order refused
        shim.log.wait(r"report: delivered \(HTTP 204\): \d+ report")
        self.assertEqual(self.metrics(), {"queued": 4, "delivered": 4,
                                          "failed": 0, "suppressed": 0})

    def test_pins_from_the_ini_say_so(self):
        col = Collector(self)
        other = pin_of(self.pki / "backup.pem")
        # the INI's exact h1.api.test is more specific than the feed's
        # *.api.test: its pins are the ones expected
        shim = self.start(col.port, ini_domains=self.domain(
            "h1.api.test", [other]))
        self.refuse_all(shim, HOSTS[:1])
        wait_for(lambda: len(col.reports()) == 1, "1 report")
        b = col.reports()[0]["body"]
        self.assertEqual(validate(col.reports()[0], SCHEMA), [])
        self.assertEqual((b["host"], b["rule"], b["expected_pins"],
                          b["pins_source"]),
                         ("h1.api.test", "h1.api.test", [other], "ini"))

    def test_would_refuse_is_reported_with_its_chain(self):
        col = Collector(self)
        meta = "report_url = https://feeds.api.test:%d/r\n" % col.port
        self.publish(3, [self.leaf], meta=meta,
                     extra="\n[domain:*.api.test]\npins = %s\npolicy = pin\n"
                     "enforce = no\n" % self.leaf)
        shim = Shim(self, self.feed_ini(self.up).replace(
            "[listen:api]", "[listen:t0]\nmode = tunnel\nbind = "
            "127.0.0.1:%d\nconnect = %s:%d\n\n[listen:api]"
            % (self.ports[0], HOSTS[0], self.up)))
        shim.log.wait("feed: version 3 in force")
        self.port = self.ports[0]
        self.passes_as(shim)
        wait_for(lambda: len(col.reports()) == 1, "1 report")
        rep = col.reports()[0]
        self.assertEqual(validate(rep, SCHEMA), [])
        self.assertEqual((rep["body"]["verdict"], rep["body"]["reason"],
                          rep["body"]["pins_source"]),
                         ("would-refuse", "pin-mismatch", "feed"))
        self.assertEqual(rep["body"]["served_chain"], self.served())

    def passes_as(self, shim):
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=WAIT) as s:
            s.sendall(b"ping\n")
            self.assertEqual(s.recv(100), b"gnip\n")
        v = shim.verdict(listener="t0")
        self.assertEqual(v["verdict"], "would-refuse", v)

    def test_reports_survive_a_collector_down_then_503(self):
        port = free_port()              # nothing listens there yet
        shim = self.start(port)
        self.refuse_all(shim, HOSTS[:2])
        shim.log.wait(r"report: 2 not delivered: .*; retry in 2s")
        col = Collector(self, statuses=(503, 204), port=port)
        shim.log.wait(r"report: 2 not accepted: HTTP status 503; "
                      r"retry in 4s")
        self.refuse_all(shim, HOSTS[2:])  # queued behind the failed ones
        shim.log.wait(r"report: delivered \(HTTP 204\)")
        wait_for(lambda: len(col.reports()) == len(HOSTS),
                 "%d reports" % len(HOSTS), timeout=WAIT + 10)
        self.assertEqual([r["body"]["host"] for r in col.reports()], HOSTS)
        for rep in col.reports():
            self.assertEqual(validate(rep, SCHEMA), [], rep)
        # the two that waited carry their age since the refusal
        self.assertGreaterEqual(col.reports()[0]["age"], 6000)
        self.assertEqual(self.metrics(), {"queued": 4, "delivered": 4,
                                          "failed": 2, "suppressed": 0})

    def test_a_host_is_reported_once_per_window(self):
        col = Collector(self)
        shim = self.start(col.port)
        self.refuse_all(shim, HOSTS[:1])
        self.refuse_all(shim, HOSTS[:1])
        shim.log.wait(r"report: rate-limited \(host h1.api.test, "
                      r"1 suppressed\)")
        self.refuse_all(shim, HOSTS[1:2])   # another host is reported
        wait_for(lambda: len(col.reports()) == 2, "2 reports")
        self.assertEqual([(r["body"]["host"], r["body"]["suppressed"])
                          for r in col.reports()],
                         [("h1.api.test", 0), ("h2.api.test", 1)])
        self.assertEqual(self.metrics()["suppressed"], 1)

    def test_rfc7469_format_is_one_hpkp_report_per_post(self):
        col = Collector(self)
        shim = self.start(col.port, fmt="rfc7469")
        self.refuse_all(shim, HOSTS[:2])
        wait_for(lambda: len(col.posts) == 2, "2 POSTs")
        served = self.served()
        b64 = self.leaf[len("sha256/"):]
        for (ctype, rep), host in zip(col.posts, HOSTS):
            self.assertEqual(ctype, "application/json")
            self.assertEqual(sorted(rep), sorted([
                "date-time", "hostname", "port", "effective-expiration-date",
                "include-subdomains", "noted-hostname",
                "served-certificate-chain", "validated-certificate-chain",
                "known-pins"]))
            self.assertEqual((rep["hostname"], rep["port"],
                              rep["noted-hostname"],
                              rep["include-subdomains"]),
                             (host, self.up, "api.test", True))
            self.assertEqual(rep["known-pins"], ['pin-sha256="%s"' % b64])
            self.assertEqual(rep["served-certificate-chain"], served)
            self.assertRegex(rep["date-time"],
                             r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def test_a_bad_report_format_refuses_the_feed(self):
        r = self.sign_unchecked(self.body(
            3, [self.leaf], meta="report_format = hpkp\n"))
        f = Path(self.tmp) / "bad.feed"
        f.write_bytes(r)
        out = run("feed", "verify", "--pubkey", Path(self.tmp) / "k1.pub", f)
        self.assertEqual(out.returncode, 1)
        self.assertIn("[feed] report_format: not one of w3c, rfc7469",
                      out.stderr)
