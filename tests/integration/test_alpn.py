"""ALPN through every mode, with real peers checked on both ends: HTTP/2
(curl, httpx, Node) to an nginx that logs the protocol it served, gRPC
(grpcio client and server over TLS), an HTTP/1.1-only app, an app that
offers nothing, and a tunnel offering AWS IoT's x-amzn-mqtt-ca."""

import os
import re
import socket
import subprocess
from pathlib import Path

import test_intercept as ti
from harness import (PINSHIM_CMD, WAIT, Proc, Shim, ShimTest, TLSServer,
                     fields,
                     free_port, http_get, pin_of, refused_silently,
                     wait_for, wait_port)

PY = "/usr/bin/python3"       # Debian's: grpcio, httpx and h2 are its

# A generic gRPC service without protoc: one unary method, bytes in and
# out. Run as: grpc_peer.py server HOST:PORT CHAIN KEY
#          or: grpc_peer.py client TARGET CA PROXY|- [NAME]
GRPC_PEER = r'''
import sys, grpc
from concurrent import futures

METHOD = "/pinshim.Echo/Say"

def say(request, context):
    # gRPC runs only over HTTP/2: an answer means the server spoke h2
    return b"echo:" + request

if sys.argv[1] == "server":
    handler = grpc.method_handlers_generic_handler("pinshim.Echo", {
        "Say": grpc.unary_unary_rpc_method_handler(
            say, request_deserializer=None, response_serializer=None)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    creds = grpc.ssl_server_credentials([(open(sys.argv[4], "rb").read(),
                                          open(sys.argv[3], "rb").read())])
    server.add_secure_port(sys.argv[2], creds)
    server.start()
    print("serving", flush=True)
    server.wait_for_termination()
else:
    # client TARGET CA PROXY|- [NAME]: through PROXY (CONNECT), or not;
    # NAME: the TLS name, when TARGET is an address
    creds = grpc.ssl_channel_credentials(open(sys.argv[3], "rb").read())
    if sys.argv[4] != "-":
        opts = [("grpc.http_proxy", sys.argv[4])]
    else:
        opts = [("grpc.enable_http_proxy", 0)]
    if len(sys.argv) > 5:
        opts.append(("grpc.ssl_target_name_override", sys.argv[5]))
    with grpc.secure_channel(sys.argv[2], creds, options=opts) as ch:
        say_ = ch.unary_unary(METHOD)
        print(say_(b"hello", timeout=15).decode(), flush=True)
'''

# Node's http2 client through a CONNECT proxy: http.request CONNECT, TLS
# with ALPN h2 over the tunnel, then http2.connect over that socket.
NODE_H2 = r'''
const http = require("http"), http2 = require("http2"), tls = require("tls");
const fs = require("fs");
const [proxyPort, host, port, ca] = process.argv.slice(-4);
const req = http.request({host: "127.0.0.1", port: +proxyPort,
    method: "CONNECT", path: host + ":" + port});
req.on("connect", (res, socket) => {
  if (res.statusCode !== 200) { console.log("proxy " + res.statusCode);
    process.exit(2); }
  const s = tls.connect({socket, servername: host, ALPNProtocols: ["h2"],
      ca: fs.readFileSync(ca)});
  s.on("secureConnect", () => {
    console.log("alpn " + s.alpnProtocol);
    const c = http2.connect("https://" + host + ":" + port,
        {createConnection: () => s});
    const r = c.request({":path": "/"});
    let body = "";
    r.on("response", (h) => console.log("status " + h[":status"]));
    r.on("data", (d) => body += d);
    r.on("end", () => { console.log("body " + body.trim());
                        process.exit(0); });
  });
  s.on("error", (e) => { console.log("error " + e.message); process.exit(3); });
});
req.on("error", (e) => { console.log("error " + e.message); process.exit(4); });
req.end();
'''

HTTPX_H2 = r'''
import sys, httpx
proxy, url, ca = sys.argv[1:4]
with httpx.Client(http2=True, proxies=proxy, verify=ca, timeout=15) as c:
    r = c.get(url)
    print(r.http_version, r.status_code, r.text.strip())
'''


def h2_nginx(test, listen, chain, key, name="nginx", netns=None):
    """nginx with http2 on listen (ADDR:PORT), logging the protocol it
    served each request with ($server_protocol: HTTP/2.0, HTTP/1.1) to
    its proto.log; returns (proc, log path). netns: run it there."""
    prefix = Path(test.tmp) / name
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    (prefix / "root").mkdir(exist_ok=True)
    (prefix / "root" / "index.html").write_text("hello from nginx\n")
    log = prefix / "logs" / "proto.log"
    log.touch()
    conf = prefix / "nginx.conf"
    conf.write_text("""
daemon off;
master_process off;
worker_processes 1;
error_log %(p)s/logs/error.log;
pid %(p)s/nginx.pid;
events { worker_connections 256; }
http {
    log_format proto '$server_protocol $status';
    access_log %(log)s proto;
    client_body_temp_path %(p)s/body;
    proxy_temp_path %(p)s/proxy;
    fastcgi_temp_path %(p)s/fastcgi;
    uwsgi_temp_path %(p)s/uwsgi;
    scgi_temp_path %(p)s/scgi;
    server {
        listen %(listen)s ssl http2;
        ssl_certificate %(chain)s;
        ssl_certificate_key %(key)s;
        root %(p)s/root;
    }
}
""" % {"p": prefix, "listen": listen, "chain": chain, "key": key,
       "log": log})
    argv = ["nginx", "-p", str(prefix), "-c", str(conf), "-e",
            str(prefix / "logs" / "error.log")]
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    proc = Proc(test, argv, name)
    return proc, log


def last_proto(log):
    """The protocol of the last request nginx logged, once one is."""
    wait_for(lambda: log.read_text().strip(), "a request in %s" % log)
    return log.read_text().strip().splitlines()[-1].split()[0]


class AlpnForward(ti.Intercept):

    def setUp(self):
        super().setUp()
        self.up = free_port()
        self.nginx, self.plog = h2_nginx(
            self, "127.0.0.1:%d" % self.up, self.pki / "leaf-chain.pem",
            self.pki / "leaf.key")
        wait_port(self.up, self.nginx.p)
        self.shim = self.start(self.up, [pin_of(self.pki / "leaf.pem")])

    def url(self):
        return "https://api.test:%d/" % self.up

    def pass_line(self):
        v = self.shim.verdict()
        self.assertEqual(v["verdict"], "pass", v)
        return v

    def test_curl_http2_is_h2_on_both_ends(self):
        r = self.curl(self.url(), "--http2", "-w",
                      "\n%{http_code} %{http_version}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("hello from nginx", r.stdout)
        self.assertTrue(r.stdout.endswith("\n200 2"), r.stdout)
        self.assertEqual(last_proto(self.plog), "HTTP/2.0")
        self.assertEqual(self.pass_line()["alpn"], "h2")

    def test_curl_http1_1_stays_http1_1(self):
        r = self.curl(self.url(), "--http1.1", "-w",
                      "\n%{http_code} %{http_version}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.endswith("\n200 1.1"), r.stdout)
        self.assertEqual(last_proto(self.plog), "HTTP/1.1")
        self.assertEqual(self.pass_line()["alpn"], "http/1.1")

    def s_client(self, *extra, wait_close=False):
        """wait_close: send a line and read until the server closes (an
        h2 server does, on a bad preface), so a session ticket sent after
        the handshake is in before s_client exits."""
        return subprocess.run(
            ["openssl", "s_client", "-proxy", "127.0.0.1:%d" %
             self.proxy_port, "-connect", "api.test:%d" % self.up,
             "-servername", "api.test", "-CAfile", str(self.ca),
             "-verify_return_error"] + list(extra) +
            (["-ign_eof"] if wait_close else []),
            input="not an HTTP/2 connection preface, closed at once\n"
            if wait_close else "",
            capture_output=True, text=True, errors="replace", timeout=WAIT)

    def test_an_app_offering_nothing_gets_nothing(self):
        r = self.s_client()
        self.assertIn("Verify return code: 0 (ok)", r.stdout, r.stderr)
        self.assertIn("No ALPN negotiated", r.stdout)
        self.assertEqual(self.pass_line()["alpn"], "-")

    def test_an_app_offering_only_http1_1_gets_it(self):
        r = self.s_client("-alpn", "http/1.1")
        self.assertIn("ALPN protocol: http/1.1", r.stdout, r.stderr)
        self.assertEqual(self.pass_line()["alpn"], "http/1.1")

    def test_an_upstream_that_selects_none_gets_the_app_none(self):
        """An upstream without ALPN (s_server) selects none of the app's
        protocols: the app is answered with none, never with one of its
        own."""
        self.shim.stop()
        self.up = self.api()
        self.shim = self.start(self.up, [pin_of(self.pki / "leaf.pem")])
        r = self.s_client("-alpn", "h2,http/1.1")
        self.assertIn("Verify return code: 0 (ok)", r.stdout, r.stderr)
        self.assertIn("No ALPN negotiated", r.stdout)
        self.assertEqual(self.pass_line()["alpn"], "-")

    def test_an_upstream_refusing_the_apps_protocols_is_a_refusal(self):
        """nginx answers an ALPN list it speaks none of with a fatal
        no_application_protocol alert: a refusal, logged and counted; the
        app gets a handshake_failure alert."""
        r = self.s_client("-alpn", "x-unknown/1")
        self.assertNotIn("BEGIN CERTIFICATE", r.stdout)
        self.assertIn("alert handshake failure", r.stdout + r.stderr)
        v = self.shim.verdict()
        self.assertEqual((v["verdict"], v["reason"]),
                         ("refuse", "tls-handshake-failed"), v)
        self.assertIn("alert", v["detail"])

    @staticmethod
    def leaf(out):
        start = out.find("-----BEGIN CERTIFICATE-----")
        return out[start:out.find("-----END CERTIFICATE-----")] \
            if start >= 0 else None

    def test_leaf_cache_and_app_side_resumption_keep_alpn(self):
        sess = Path(self.tmp) / "sess.pem"
        first = self.s_client("-alpn", "h2,http/1.1", "-sess_out", sess,
                              "-showcerts", wait_close=True)
        self.assertIn("ALPN protocol: h2", first.stdout, first.stderr)
        self.assertIn("New, TLSv1.3", first.stdout)
        # a full handshake again: the cached leaf, the same protocol
        second = self.s_client("-alpn", "h2,http/1.1", "-showcerts")
        self.assertIn("ALPN protocol: h2", second.stdout, second.stderr)
        self.assertIsNotNone(self.leaf(first.stdout))
        self.assertEqual(self.leaf(first.stdout), self.leaf(second.stdout))
        # the app resumes its session with pinshim: still h2
        again = self.s_client("-alpn", "h2,http/1.1", "-sess_in", sess)
        self.assertIn("ALPN protocol: h2", again.stdout, again.stderr)
        self.assertIn("Reused, TLSv1.3", again.stdout)
        for _ in range(3):
            self.assertEqual(self.pass_line()["alpn"], "h2")

    def test_httpx_http2(self):
        r = subprocess.run([PY, "-c", HTTPX_H2, "http://127.0.0.1:%d" %
                            self.proxy_port, self.url(), str(self.ca)],
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "HTTP/2 200 hello from nginx")
        self.assertEqual(last_proto(self.plog), "HTTP/2.0")
        self.assertEqual(self.pass_line()["alpn"], "h2")

    def test_node_http2_client(self):
        r = subprocess.run(["node", "-e", NODE_H2, "--", str(self.proxy_port),
                            "api.test", str(self.up), str(self.ca)],
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.split("\n")[:3],
                         ["alpn h2", "status 200", "body hello from nginx"])
        self.assertEqual(last_proto(self.plog), "HTTP/2.0")
        self.assertEqual(self.pass_line()["alpn"], "h2")

    def test_wrong_pin_after_the_200_is_a_tls_alert_not_a_502(self):
        self.shim.stop()
        shim = self.start(self.up, [ti.UNRELATED])
        r = self.curl(self.url(), "--http2")
        self.assertEqual(r.returncode, 35, r.stderr)
        self.assertIn("alert handshake failure", r.stderr)
        self.assertNotIn("502", r.stdout)
        v = shim.verdict()
        self.assertEqual((v["verdict"], v["reason"]),
                         ("refuse", "pin-mismatch"))
        self.assertIn(pin_of(self.pki / "leaf.pem"), v["presented"])
        self.assertEqual(self.plog.read_text(), "")   # no request reached it

    def test_blocked_host_still_gets_502_before_any_200(self):
        got = self.raw(b"CONNECT other.test:%d HTTP/1.1\r\n\r\n" % self.up)
        self.assertTrue(got.startswith(b"HTTP/1.1 502 "), got)
        self.assertEqual(self.shim.verdict()["reason"], "blocked")


class AlpnGrpc(ShimTest):
    """A grpcio client and server over TLS, through forward mode."""

    def test_grpc_unary_call_through_forward(self):
        state = Path(self.tmp) / "state"
        state.mkdir()
        subprocess.run([*PINSHIM_CMD, "ca", "init", state / "ca"], check=True,
                       capture_output=True)
        peer = Path(self.tmp) / "grpc_peer.py"
        peer.write_text(GRPC_PEER)
        up = free_port()
        srv = Proc(self, [PY, peer, "server", "127.0.0.1:%d" % up,
                          self.pki / "leaf-chain.pem", self.pki / "leaf.key"],
                   "grpc-server")
        srv.log.wait("serving", proc=srv.p)
        proxy = free_port()
        listen = "[listen:proxy]\nmode = forward\nbind = 127.0.0.1:%d\n" \
            "ports = %d\n" % (proxy, up)
        shim = Shim(self, "[shim]\nstate_dir = %s\n" % state + self.ini(
            None, self.domain("api.test", [pin_of(self.pki / "leaf.pem")]),
            listeners=listen))
        r = subprocess.run([PY, peer, "client", "api.test:%d" % up,
                            state / "ca" / "ca.pem",
                            "http://127.0.0.1:%d" % proxy],
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "echo:hello")
        v = shim.verdict()
        # grpcio offers grpc-exp (its name for h2) before h2; either way
        # the server chose, and the call was answered over HTTP/2
        self.assertEqual(v["verdict"], "pass")
        self.assertIn(v["alpn"], ("grpc-exp", "h2"))


class AlpnTransparent(ti.TransparentNet):
    """curl --http2 / --http1.1 and gRPC through the transparent gateway,
    in namespaces of this work's own."""

    NS = ("pal-c", "pal-g", "pal-s")

    def h2_server(self):
        proc, log = h2_nginx(self, "10.203.2.2:443",
                             self.pki / "leaf-chain.pem",
                             self.pki / "leaf.key", netns=self.NS[2])
        self.wait_server()
        return log

    def wait_server(self):
        self.sh("ip", "netns", "exec", self.NS[1], "bash", "-c",
                "for i in $(seq 200); do (exec 3<>/dev/tcp/10.203.2.2/443) "
                "2>/dev/null && exit 0; sleep 0.05; done; exit 1")

    def curl(self, *extra):
        return subprocess.run(["ip", "netns", "exec", self.NS[0], "curl",
                               "-sS", "-m", str(WAIT), "--cacert",
                               str(self.ca), "--resolve",
                               "api.test:443:10.203.2.2",
                               "https://api.test/", "-o", "/dev/null",
                               "-w", "%{http_code} %{http_version}"] +
                              list(extra), capture_output=True, text=True)

    def test_curl_http2_and_http1_1_through_transparent(self):
        log = self.h2_server()
        gw = self.gateway([pin_of(self.pki / "leaf.pem")])
        r = self.curl("--http2")
        self.assertEqual(r.stdout, "200 2", r.stderr)
        self.assertEqual(last_proto(log), "HTTP/2.0")
        self.assertEqual(fields(gw.log.wait(" verdict "))["alpn"], "h2")
        r = self.curl("--http1.1")
        self.assertEqual(r.stdout, "200 1.1", r.stderr)
        wait_for(lambda: len(log.read_text().splitlines()) == 2,
                 "a second request in nginx's log")
        self.assertEqual(last_proto(log), "HTTP/1.1")
        self.assertEqual(fields(gw.log.wait(" verdict "))["alpn"],
                         "http/1.1")

    def test_grpc_through_transparent(self):
        peer = Path(self.tmp) / "grpc_peer.py"
        peer.write_text(GRPC_PEER)
        srv = Proc(self, ["ip", "netns", "exec", self.NS[2], PY, peer,
                          "server", "10.203.2.2:443",
                          self.pki / "leaf-chain.pem", self.pki / "leaf.key"],
                   "grpc-server")
        srv.log.wait("serving", proc=srv.p)
        self.wait_server()
        gw = self.gateway([pin_of(self.pki / "leaf.pem")])
        # the client dials the server's address (the gateway redirects it
        # to pinshim) and names api.test in its SNI
        r = subprocess.run(["ip", "netns", "exec", self.NS[0], PY, peer,
                            "client", "ipv4:10.203.2.2:443", self.ca,
                            "-", "api.test"],
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "echo:hello")
        v = fields(gw.log.wait(" verdict "))
        self.assertEqual(v["verdict"], "pass")
        self.assertIn(v["alpn"], ("grpc-exp", "h2"))


class AlpnTunnel(ShimTest):
    """alpn = in a tunnel, against openssl s_server -alpn (AWS IoT's
    x-amzn-mqtt-ca on port 443 works this way)."""

    def server(self, alpn):
        port = free_port()
        srv = Proc(self, ["openssl", "s_server", "-accept",
                          "127.0.0.1:%d" % port, "-cert",
                          self.pki / "leaf.pem", "-key",
                          self.pki / "leaf.key", "-cert_chain",
                          self.pki / "inter.pem", "-www", "-alpn", alpn,
                          "-naccept", "100"], "s_server")
        wait_port(port, srv.p)
        return port, srv

    def tunnel(self, port, alpn=None):
        text = self.ini("api.test:%d" % port, self.domain(
            "api.test", [pin_of(self.pki / "leaf.pem")]))
        if alpn:
            text = text.replace("connect = api.test:%d\n" % port,
                                "connect = api.test:%d\nalpn = %s\n" %
                                (port, alpn))
        return Shim(self, text)

    def test_tunnel_offers_its_alpn_and_logs_the_choice(self):
        def answer_with_the_protocol(conn):
            conn.recv(4096)
            conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" +
                         (conn.selected_alpn_protocol() or "-").encode())
            conn.unwrap()       # close_notify: the reply is whole

        srv = TLSServer(self, self.pki / "leaf-chain.pem",
                        self.pki / "leaf.key", answer_with_the_protocol)
        srv.ctx.set_alpn_protocols(["x-amzn-mqtt-ca"])
        shim = self.tunnel(srv.port, "x-amzn-http-ca, x-amzn-mqtt-ca")
        status, body = http_get(self.port)
        self.assertEqual((status, body), (200, b"x-amzn-mqtt-ca"))
        v = shim.verdict()
        self.assertEqual((v["verdict"], v["alpn"]), ("pass", "x-amzn-mqtt-ca"))

    def test_tunnel_without_alpn_offers_none(self):
        port, srv = self.server("x-amzn-mqtt-ca")
        shim = self.tunnel(port)
        status, _ = http_get(self.port)
        self.assertEqual(status, 200)
        v = shim.verdict()
        self.assertEqual((v["verdict"], v["alpn"]), ("pass", "-"))
        self.assertNotIn("ALPN protocols advertised", srv.log.text())

    def test_an_upstream_refusing_the_offered_alpn_is_a_refusal(self):
        """s_server answers an ALPN list without its protocol with a fatal
        no_application_protocol alert: refused, nothing relayed."""
        port, _ = self.server("x-amzn-mqtt-ca")
        shim = self.tunnel(port, "x-amzn-http-ca")
        self.assertEqual(refused_silently(self.port), b"")
        v = shim.verdict()
        self.assertEqual(v["verdict"], "refuse", v)
        self.assertRegex(v["detail"], "(?i)no.application.protocol|alpn|"
                         "alert")

    def test_a_server_alpn_list_with_a_bad_tail_is_refused(self):
        """CVE-2026-3547: wolfSSL 5.7.2 checked an ALPN list's entries only
        up to two bytes short of its end, and its match then read past the
        list. A TLS 1.2 ServerHello whose ALPN list is [x] followed by a
        name claiming 8 bytes with 1 left ("http/1.1" is what the tunnel
        offers, so the match reads on) is a decode error with the patch
        (mk/wolfssl-alpn-list.patch): refused, and the shim serves on."""
        def bad_server_hello(conn):
            conn.settimeout(WAIT)
            hello = b""
            while len(hello) < 5 or len(hello) < 5 + int.from_bytes(
                    hello[3:5], "big"):
                b = conn.recv(4096)
                if not b:
                    return "closed"
                hello += b
            # the first TLS 1.2 ECDHE suite the client offers
            body = hello[9:]
            off = 2 + 32
            off += 1 + body[off]
            n = int.from_bytes(body[off:off + 2], "big")
            suites = [body[i:i + 2] for i in range(off + 2, off + 2 + n, 2)]
            suite = next(x for x in suites if x[0] == 0xC0)
            alpn = b"\x01x\x08h"                    # the bad tail
            ext = b"\x00\x10" + (len(alpn) + 2).to_bytes(2, "big") + \
                len(alpn).to_bytes(2, "big") + alpn
            sh = b"\x03\x03" + os.urandom(32) + b"\x00" + suite + \
                b"\x00" + len(ext).to_bytes(2, "big") + ext
            msg = b"\x02" + len(sh).to_bytes(3, "big") + sh
            conn.sendall(b"\x16\x03\x03" + len(msg).to_bytes(2, "big") +
                         msg)
            try:
                conn.recv(4096)
            except OSError:
                pass
            return "sent"

        srv = TLSServer(self, None, None, bad_server_hello, tls=False)
        shim = self.tunnel(srv.port, "http/1.1")
        self.assertEqual(refused_silently(self.port), b"")
        v = shim.verdict()
        self.assertEqual((v["verdict"], v["reason"]),
                         ("refuse", "tls-handshake-failed"), v)
        self.assertIn("-328", v["detail"])      # BUFFER_ERROR: a decode error
        self.assertIsNone(shim.p.poll())
        wait_port(self.port, shim.p)

    def iot_broker(self):
        """A server that requires ALPN x-amzn-mqtt-ca, as AWS IoT Core's
        MQTT on port 443 does: a ClientHello without it gets a fatal
        no_application_protocol alert (RFC 7301 3.2), nothing else."""
        import ssl
        import time
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.pki / "leaf-chain.pem"),
                            str(self.pki / "leaf.key"))
        ctx.set_alpn_protocols(["x-amzn-mqtt-ca"])

        def serve(conn):
            conn.settimeout(WAIT)
            end = time.monotonic() + WAIT
            hello = b""
            while len(hello) < 5 or len(hello) < 5 + int.from_bytes(
                    hello[3:5], "big"):
                self.assertLess(time.monotonic(), end)
                hello = conn.recv(65536, socket.MSG_PEEK)
                if not hello:
                    return "closed"
            if b"\x0ex-amzn-mqtt-ca" not in hello:
                conn.sendall(bytes([21, 3, 3, 0, 2, 2, 120]))
                return "alert"
            tls = ctx.wrap_socket(conn, server_side=True)
            tls.recv(4096)
            tls.sendall(b"HTTP/1.0 200 OK\r\n\r\n" +
                        tls.selected_alpn_protocol().encode())
            tls.unwrap()
            return "served"

        return TLSServer(self, None, None, serve, tls=False)

    def test_aws_iot_shaped_broker_needs_the_tunnels_alpn(self):
        broker = self.iot_broker()
        shim = self.tunnel(broker.port, "x-amzn-mqtt-ca")
        self.assertEqual(http_get(self.port), (200, b"x-amzn-mqtt-ca"))
        v = shim.verdict()
        self.assertEqual((v["verdict"], v["alpn"]), ("pass", "x-amzn-mqtt-ca"))
        wait_for(lambda: broker.results or broker.errors, "the broker's end")
        self.assertEqual((broker.results, broker.errors), (["served"], []))

    def test_a_broker_requiring_alpn_refuses_a_tunnel_without(self):
        broker = self.iot_broker()
        shim = self.tunnel(broker.port)
        self.assertEqual(refused_silently(self.port), b"")
        v = shim.verdict()
        self.assertEqual((v["verdict"], v["reason"]),
                         ("refuse", "tls-handshake-failed"), v)
        self.assertIn("alert", v["detail"])
        wait_for(lambda: broker.results or broker.errors, "the broker's end")
        self.assertEqual((broker.results, broker.errors), (["alert"], []))

    def check(self, listener):
        ini = Path(self.tmp) / "t.ini"
        ini.write_text(self.ini("api.test:443", listeners=listener))
        return subprocess.run(PINSHIM_CMD + ["run", "-t", "-c", str(ini)],
                              capture_output=True, text=True)

    def test_alpn_key_is_validated(self):
        base = "[listen:t]\nmode = tunnel\nbind = 127.0.0.1:%d\n" \
            "connect = api.test:443\n" % free_port()
        ok = self.check(base + "alpn = x-amzn-mqtt-ca, h2,\n  http/1.1\n")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        for bad, why in (
                ("alpn = h2, h2\n", "listed twice"),
                ("alpn = h\u00e92\n", "1..255 printable"),
                ("alpn = ,\n", "an empty list")):
            with self.subTest(bad=bad):
                r = self.check(base + bad)
                self.assertNotEqual(r.returncode, 0, r.stderr)
                self.assertRegex(r.stderr, r"t\.ini:\d+: \[listen:t\] alpn: "
                                 r".*" + re.escape(why))
        fwd = "[listen:f]\nmode = forward\nbind = 127.0.0.1:%d\n" \
            "alpn = h2\n" % free_port()
        r = self.check(fwd)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("[listen:f] alpn: only for mode tunnel", r.stderr)


if __name__ == "__main__":
    import unittest
    unittest.main()
