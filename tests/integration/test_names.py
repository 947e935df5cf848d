"""Names, addresses and long-lived relays (issue 22, items 4 and 6).

- Long-lived relays: a real MQTT subscriber (paho-mqtt, keepalive 600 s)
  through tunnel, forward and transparent listeners with default idle
  settings still gets a message published after more than 300 s of
  silence; the same subscriber through a listener with the old default
  written out (idle_timeout = 300) is cut, in the same run, so the test
  can fail. pinshim runs under libfaketime at 50x: its clock and its
  epoll_wait timeouts both run fast (the idle timer of 300 s fires after
  6 real seconds), the broker and the client run at real speed.
- hosts_file is read again on SIGHUP; a reload whose hosts_file is gone is
  refused and the running entries stay.
- IPv6 literals as host patterns: tunnel connect = [::1]:PORT, forward
  CONNECT [::1]:PORT, transparent without SNI to an IPv6 destination.
- The RFC 8305 race: a name whose IPv6 address is dead (refused on
  loopback; blackholed, SYN dropped, in a network namespace) connects
  over IPv4 within the 250 ms stagger, not after connect_timeout, and a
  second connection goes straight to the live address.
- 0.0.0.0:P and [::]:P both bound, each reachable.

Network namespaces are named pnm-*; they are removed at cleanup.
"""

import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from harness import (PINSHIM, PINSHIM_CMD, ROOT, WAIT, Proc, Shim, ShimTest,
                     fields, free_port, pin_of, wait_port)

MQTT_SUB = ROOT / "tests" / "integration" / "mqtt_sub.py"
PY = "/usr/bin/python3"
UNRELATED = "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def fast_clock():
    """libfaketime at 50x, monotonic clock and timeouts included (what
    libevent's timers use): 300 s of pinshim's time in 6 real seconds."""
    libs = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
    if not libs:
        raise AssertionError("libfaketime not installed (tests/deps.sh)")
    return {"LD_PRELOAD": libs[0], "FAKETIME": "+0 x50",
            "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:"
                            "verify_asan_link_order=0"}


def netns_why():
    """Why network namespaces cannot be used here, or None."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if not shutil.which("ip") or not shutil.which("nft"):
        return "needs iproute2 and nftables (tests/deps.sh test)"
    r = subprocess.run(["ip", "netns", "add", "pnm-probe"],
                       capture_output=True)
    if r.returncode != 0:
        return "this machine cannot create network namespaces"
    subprocess.run(["ip", "netns", "del", "pnm-probe"])
    return None


# An app: TLS to HOST:PORT (directly or through a CONNECT proxy, the
# address in brackets as RFC 9110 writes it), verified against CAFILE for
# HOST (an address: its IP SAN, and no SNI is sent), "hello" and one line
# back. argv: HOST PORT CAFILE [PROXYPORT].
TLS_APP = r"""
import socket, ssl, sys
host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if len(sys.argv) > 4:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[4])), timeout=20)
    target = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
    s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 200"), head
else:
    s = socket.create_connection((host, port), timeout=20)
ctx = ssl.create_default_context(cafile=cafile)
t = ctx.wrap_socket(s, server_hostname=host)
t.sendall(b"hello\n")
got = b""
while not got.endswith(b"\n"):
    chunk = t.recv(100)
    if not chunk:
        break
    got += chunk
sys.stdout.write(got.decode())
"""


def tls_app(host, port, cafile, proxy=None, ns=None):
    argv = [PY, "-c", TLS_APP, host, str(port), str(cafile)]
    if proxy:
        argv.append(str(proxy))
    return subprocess.run(ns_exec(ns, *argv) if ns else argv,
                          capture_output=True, text=True, timeout=WAIT)


def sh(*argv, check=True):
    return subprocess.run([str(a) for a in argv], capture_output=True,
                          text=True, check=check)


def ns_exec(ns, *argv):
    return ["ip", "netns", "exec", ns] + [str(a) for a in argv]


def ns_wait_port(ns, host, port):
    """Until something accepts on host:port inside namespace ns."""
    target = "/dev/tcp/%s/%d" % (host, port)
    sh(*ns_exec(ns, "bash", "-c",
                "for i in $(seq 400); do (exec 3<>%s) 2>/dev/null && exit 0;"
                " sleep 0.05; done; exit 1" % target))


class Names(ShimTest):

    def setUp(self):
        super().setUp()
        self.state = Path(self.tmp) / "state"
        self.state.mkdir()
        self.ca = None

    def init_ca(self):
        r = subprocess.run([*PINSHIM_CMD, "ca", "init", self.state / "ca"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.ca = self.state / "ca" / "ca.pem"

    def netns(self, *names):
        why = netns_why()
        if why:
            self.skipTest(why)
        for ns in names:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            sh("ip", "netns", "add", ns)
            self.addCleanup(subprocess.run, ["ip", "netns", "del", ns])
            sh(*ns_exec(ns, "ip", "link", "set", "lo", "up"))

    def gateway_net(self, nft_rules):
        """client pnm-c -> gateway pnm-g -> server pnm-s, IPv4 and IPv6;
        nft_rules (an nft file's text) loaded on the gateway."""
        c, g, s = "pnm-c", "pnm-g", "pnm-s"
        self.netns(c, g, s)
        sh("ip", "link", "add", "pnm-c", "netns", c, "type", "veth", "peer",
           "name", "pnm-gc", "netns", g)
        sh("ip", "link", "add", "pnm-s", "netns", s, "type", "veth", "peer",
           "name", "pnm-gs", "netns", g)
        for ns, dev, v4, v6 in ((c, "pnm-c", "10.213.1.2/24",
                                 "fd70:6e6d:1::2/64"),
                                (g, "pnm-gc", "10.213.1.1/24",
                                 "fd70:6e6d:1::1/64"),
                                (g, "pnm-gs", "10.213.2.1/24",
                                 "fd70:6e6d:2::1/64"),
                                (s, "pnm-s", "10.213.2.2/24",
                                 "fd70:6e6d:2::2/64")):
            sh(*ns_exec(ns, "sysctl", "-qw",
                        "net.ipv6.conf.all.accept_dad=0"))
            sh(*ns_exec(ns, "sysctl", "-qw",
                        "net.ipv6.conf.%s.accept_dad=0" % dev), check=False)
            sh(*ns_exec(ns, "ip", "addr", "add", v4, "dev", dev))
            sh(*ns_exec(ns, "ip", "-6", "addr", "add", v6, "dev", dev,
                        "nodad"))
            sh(*ns_exec(ns, "ip", "link", "set", dev, "up"))
        sh(*ns_exec(c, "ip", "route", "add", "default", "via", "10.213.1.1"))
        sh(*ns_exec(c, "ip", "-6", "route", "add", "default", "via",
                    "fd70:6e6d:1::1"))
        sh(*ns_exec(s, "ip", "route", "add", "default", "via", "10.213.2.1"))
        sh(*ns_exec(s, "ip", "-6", "route", "add", "default", "via",
                    "fd70:6e6d:2::1"))
        sh(*ns_exec(g, "sysctl", "-qw", "net.ipv4.ip_forward=1"))
        sh(*ns_exec(g, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"))
        rules = Path(self.tmp) / "pnm.nft"
        rules.write_text(nft_rules)
        sh(*ns_exec(g, "nft", "-f", rules))

    def shim_in(self, ns, ini, name="pinshim", env=None):
        path = Path(self.tmp) / ("%s.ini" % name)
        path.write_text(ini)
        e = dict(os.environ, **(env or {}))
        p = Proc(self, ns_exec(ns, PINSHIM, "run", "-c", path), name, env=e)
        p.log.wait("pinshim started", proc=p.p)
        return p

    def mosquitto(self, tls_ports, plain_port, host="127.0.0.1", ns=None):
        """A TLS broker (the test PKI's api.test leaf) on tls_ports, with a
        plain listener for the publisher on 127.0.0.1:plain_port."""
        p = self.pki
        conf = Path(self.tmp) / ("mosquitto-%d.conf" % plain_port)
        text = "user root\nper_listener_settings false\n" \
            "allow_anonymous true\npersistence false\nlog_type all\n" \
            "listener %d 127.0.0.1\n" % plain_port
        for port in tls_ports:
            text += "listener %d %s\ncertfile %s\nkeyfile %s\n" % (
                port, host, p / "leaf-chain.pem", p / "leaf.key")
        conf.write_text(text)
        argv = ["mosquitto", "-c", str(conf)]
        broker = Proc(self, ns_exec(ns, *argv) if ns else argv, "mosquitto")
        for port in tls_ports:
            if ns:
                ns_wait_port(ns, host, port)
            else:
                wait_port(port, broker.p)
        return broker

    def subscriber(self, logname, ns=None, **kw):
        argv = [PY, str(MQTT_SUB), "--topic", "pnm/news"]
        for k, v in kw.items():
            argv += ["--" + k, str(v)]
        sub = Proc(self, ns_exec(ns, *argv) if ns else argv, logname)
        sub.log.wait("^subscribed", proc=sub.p)
        return sub

    def publish(self, port, msg, ns=None):
        argv = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q",
                "1", "-t", "pnm/news", "-m", msg]
        r = subprocess.run(ns_exec(ns, *argv) if ns else argv,
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)

    def rev_server(self, host="127.0.0.1", leaf="leaf"):
        p = self.pki
        port = free_port()
        srv = Proc(self, ["openssl", "s_server", "-accept", "%s:%d" % (
            "[%s]" % host if ":" in host else host, port), "-cert",
            p / ("%s.pem" % leaf), "-key", p / ("%s.key" % leaf),
            "-cert_chain", p / "inter.pem", "-quiet", "-rev", "-naccept",
            "1000"] + (["-6"] if ":" in host else []), "s_server")
        end = time.monotonic() + WAIT
        while True:
            try:
                socket.create_connection((host, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > end or srv.p.poll() is not None:
                    raise AssertionError("s_server on %s:%d" % (host, port))
                time.sleep(0.02)
        return port, srv

    def echo(self, port=None, host="127.0.0.1"):
        """hello through the tunnel, and what came back before the close."""
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(fam) as s:
            s.settimeout(WAIT)
            s.connect((host, port or self.port))
            try:
                s.sendall(b"hello\n")
                got = b""
                while not got.endswith(b"\n"):
                    chunk = s.recv(100)
                    if not chunk:
                        break
                    got += chunk
                return got
            except (ConnectionResetError, BrokenPipeError):
                return b""

    def survives_silence(self, shim_log, quiet, cut, publish):
        """quiet: the subscriber through a default listener; cut: through
        one with idle_timeout = 300. The cut one proves that pinshim's clock
        passed 300 s of silence; the quiet one must still get the message
        published after it."""
        line = shim_log.wait(r' close listener=cut .*how="idle timeout"',
                             timeout=120)
        duration = float(re.search(r"duration=([\d.]+)s", line).group(1))
        self.assertGreaterEqual(duration, 300, line)
        cut.log.wait("^disconnected")
        publish("after %ds of silence" % duration)
        got = quiet.log.wait("^message ")
        self.assertIn("after", got)
        # (it closes after the message: the subscriber hangs up)
        self.assertNotRegex(shim_log.text(),
                            r'close listener=quiet .*how="idle timeout"')
        self.assertIsNone(re.search("^message", cut.log.text(), re.M))


class LongLived(Names):
    """A 600 s-keepalive MQTT subscriber with defaults, every mode."""

    def test_tunnel_mqtt_subscriber_outlives_300s_of_silence(self):
        tls, plain = free_port(), free_port()
        self.mosquitto([tls], plain)
        q, c = free_port(), free_port()
        listeners = ""
        for name, port, extra in (("quiet", q, ""),
                                  ("cut", c, "idle_timeout = 300\n")):
            listeners += "[listen:%s]\nmode = tunnel\nbind = 127.0.0.1:%d\n" \
                "connect = api.test:%d\n%s" % (name, port, tls, extra)
        ini = self.ini(None, self.domain("api.test",
                                         [pin_of(self.pki / "leaf.pem")]),
                       listeners=listeners)
        ini = ini.replace("connect_timeout = 5", "connect_timeout = 600") \
            .replace("handshake_timeout = 5", "handshake_timeout = 600")
        shim = Shim(self, ini, env=fast_clock())
        self.assertIn("listener=quiet mode=tunnel", shim.log.text())
        self.assertRegex(shim.log.text(), r"listener=quiet .* idle=0s")
        quiet = self.subscriber("sub-quiet", name="127.0.0.1", port=q)
        cut = self.subscriber("sub-cut", name="127.0.0.1", port=c)
        self.survives_silence(shim.log, quiet, cut,
                              lambda m: self.publish(plain, m))

    def test_forward_mqtt_subscriber_outlives_300s_of_silence(self):
        self.init_ca()
        tls, plain = free_port(), free_port()
        self.mosquitto([tls], plain)
        q, c = free_port(), free_port()
        listeners = ""
        for name, port, extra in (("quiet", q, ""),
                                  ("cut", c, "idle_timeout = 300\n")):
            listeners += "[listen:%s]\nmode = forward\nbind = 127.0.0.1:%d\n" \
                "ports = %d\n%s" % (name, port, tls, extra)
        ini = "[shim]\nstate_dir = %s\n" % self.state + self.ini(
            None, self.domain("api.test", [pin_of(self.pki / "leaf.pem")]),
            listeners=listeners)
        ini = ini.replace("connect_timeout = 5", "connect_timeout = 600") \
            .replace("handshake_timeout = 5", "handshake_timeout = 600")
        shim = Shim(self, ini, env=fast_clock())
        self.assertRegex(shim.log.text(),
                         r"listener=quiet mode=forward .* idle=0s")
        quiet = self.subscriber("sub-quiet", name="api.test", port=tls,
                                proxy="127.0.0.1:%d" % q, cafile=self.ca)
        cut = self.subscriber("sub-cut", name="api.test", port=tls,
                              proxy="127.0.0.1:%d" % c, cafile=self.ca)
        self.survives_silence(shim.log, quiet, cut,
                              lambda m: self.publish(plain, m))

    def test_transparent_mqtt_subscriber_outlives_300s_of_silence(self):
        self.gateway_net("""table inet pnm {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "pnm-gc" tcp dport 8883 redirect to :8443
    iifname "pnm-gc" tcp dport 8884 redirect to :8444
  }
}
""")
        self.init_ca()
        self.mosquitto([8883, 8884], 1883, host="10.213.2.2", ns="pnm-s")
        ini = """[shim]
state_dir = %s
[upstream]
ca_file = %s
connect_timeout = 600
handshake_timeout = 600
%s
[listen:quiet]
mode = transparent
bind = 0.0.0.0:8443
allow = 10.213.1.0/24
[listen:cut]
mode = transparent
bind = 0.0.0.0:8444
allow = 10.213.1.0/24
idle_timeout = 300
""" % (self.state, self.pki / "ca.pem",
            self.domain("api.test", [pin_of(self.pki / "leaf.pem")]))
        shim = self.shim_in("pnm-g", ini, env=fast_clock())
        self.assertRegex(shim.log.text(),
                         r"listener=quiet mode=transparent .* idle=0s")
        quiet = self.subscriber("sub-quiet", ns="pnm-c", name="api.test",
                                addr="10.213.2.2", port=8883, cafile=self.ca)
        cut = self.subscriber("sub-cut", ns="pnm-c", name="api.test",
                              addr="10.213.2.2", port=8884, cafile=self.ca)
        self.survives_silence(shim.log, quiet, cut,
                              lambda m: self.publish(1883, m, ns="pnm-s"))


class HostsFile(Names):

    def test_sighup_reads_hosts_file_again(self):
        port, _ = self.rev_server()
        self.hosts.write_text("127.0.0.2 api.test\n")   # nothing there
        shim = Shim(self, self.ini("api.test:%d" % port, self.domain(
            "api.test", [pin_of(self.pki / "leaf.pem")])))
        self.assertEqual(self.echo(), b"")
        v = shim.verdict()
        self.assertEqual(v["reason"], "connect-failed", v)
        self.assertEqual(v["detail"], "127.0.0.2:%d: Connection refused"
                         % port)
        self.hosts.write_text("127.0.0.1 api.test\n")
        shim.p.send_signal(signal.SIGHUP)
        shim.log.wait(r"reload: \d+ domain rule")
        self.assertEqual(self.echo(), b"olleh\n")
        v = shim.verdict()
        self.assertEqual(v["verdict"], "pass", v)
        self.assertEqual(v["addr"], "127.0.0.1:%d" % port)
        # unreadable now: the reload is refused, the running entries stay
        self.hosts.unlink()
        shim.p.send_signal(signal.SIGHUP)
        err = shim.log.wait(r"reload: .* has errors; keeping")
        self.assertIn("reload", err)
        self.assertIn("hosts_file: file not readable", shim.log.text())
        self.assertEqual(self.echo(), b"olleh\n")
        self.assertEqual(shim.verdict()["verdict"], "pass")

class Ipv6Literals(Names):
    """[domain:ADDRESS] matched against IP SANs, IPv6 included."""

    def test_tunnel_to_an_ipv6_literal_is_pinned_by_its_pattern(self):
        port, _ = self.rev_server("::1", leaf="ip")
        # spelled another way than the connect line: one address
        shim = Shim(self, self.ini("[::1]:%d" % port, self.domain(
            "0:0::1", [pin_of(self.pki / "ip.pem")])))
        self.assertEqual(self.echo(), b"olleh\n")
        v = shim.verdict()
        self.assertEqual((v["verdict"], v["rule"]), ("pass", "0:0::1"), v)
        self.assertEqual(v["addr"], "[::1]:%d" % port)

    def test_ipv6_literal_pattern_with_wrong_pins_refuses(self):
        port, _ = self.rev_server("::1", leaf="ip")
        shim = Shim(self, self.ini("[::1]:%d" % port, self.domain(
            "::1", [UNRELATED])))
        self.assertEqual(self.echo(), b"")
        v = shim.verdict()
        self.assertEqual((v["verdict"], v["reason"]),
                         ("refuse", "pin-mismatch"), v)

    def test_ipv6_literal_not_in_the_ip_sans_refuses(self):
        # leaf.pem names api.test only: no IP SAN for ::1
        port, _ = self.rev_server("::1", leaf="leaf")
        shim = Shim(self, self.ini("[::1]:%d" % port, self.domain(
            "::1", [pin_of(self.pki / "leaf.pem")])))
        self.assertEqual(self.echo(), b"")
        self.assertEqual(shim.verdict()["reason"], "name-mismatch")

    def test_bracketed_pattern_is_refused_with_the_canonical_form(self):
        ini = Path(self.tmp) / "t.ini"
        ini.write_text(self.ini("[::1]:443", "[domain:[::1]]\npolicy = ca\n"))
        r = subprocess.run([*PINSHIM_CMD, "run", "-t", "-c", ini],
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("write an IPv6 address without brackets "
                      "([domain:2001:db8::1])", r.stderr)
        ini.write_text(self.ini("[::1]:443", "[domain:2001:DB8::1]\n"
                                "policy = ca\n"))
        r = subprocess.run([*PINSHIM_CMD, "run", "-t", "-c", ini],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_forward_connect_to_an_ipv6_literal(self):
        self.init_ca()
        port, _ = self.rev_server("::1", leaf="ip")
        proxy = free_port()
        listeners = "[listen:proxy]\nmode = forward\nbind = 127.0.0.1:%d\n" \
            "ports = %d\n" % (proxy, port)
        shim = Shim(self, "[shim]\nstate_dir = %s\n" % self.state + self.ini(
            None, self.domain("::1", [pin_of(self.pki / "ip.pem")]),
            listeners=listeners))
        # the app: CONNECT [::1]:PORT, then TLS checking the minted leaf's
        # IP SAN for the address
        r = tls_app("::1", port, self.ca, proxy=proxy)
        self.assertEqual(r.stdout, "olleh\n", r.stderr)
        v = shim.verdict()
        self.assertEqual(v["verdict"], "pass", v)
        self.assertEqual(v["host"], "::1:%d" % port)
        self.assertEqual(v["rule"], "::1")

    def test_transparent_without_sni_to_an_ipv6_destination(self):
        self.gateway_net("""table inet pnm {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "pnm-gc" tcp dport 443 redirect to :8445
  }
}
""")
        self.init_ca()
        # a server certificate for the address, made now
        p, d = self.pki, Path(self.tmp)
        ext = d / "v6.ext"
        ext.write_text("subjectAltName=IP:fd70:6e6d:2::2\n"
                       "extendedKeyUsage=serverAuth\n")
        sh("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
           "ec_paramgen_curve:P-256", "-nodes", "-keyout", d / "v6.key",
           "-subj", "/CN=v6", "-out", d / "v6.csr")
        sh("openssl", "x509", "-req", "-in", d / "v6.csr", "-CA",
           p / "inter.pem", "-CAkey", p / "inter.key", "-CAcreateserial",
           "-days", "2", "-extfile", ext, "-out", d / "v6.pem")
        Proc(self, ns_exec("pnm-s", "openssl", "s_server", "-quiet", "-rev",
                           "-6", "-accept", "[fd70:6e6d:2::2]:443", "-cert",
                           d / "v6.pem", "-key", d / "v6.key",
                           "-cert_chain", p / "inter.pem"), "server")
        ns_wait_port("pnm-s", "fd70:6e6d:2::2", 443)
        ini = """[shim]
state_dir = %s
[upstream]
ca_file = %s
%s
[listen:gw4]
mode = transparent
bind = 0.0.0.0:8445
allow = 10.213.1.0/24
[listen:gw6]
mode = transparent
bind = [::]:8445
allow = fd70:6e6d:1::/64
""" % (self.state, p / "ca.pem",
            self.domain("fd70:6e6d:2:0:0::2", [pin_of(d / "v6.pem")]))
        shim = self.shim_in("pnm-g", ini)
        # an address as the server name: no SNI at all
        r = tls_app("fd70:6e6d:2::2", 443, self.ca, ns="pnm-c")
        self.assertEqual(r.stdout, "olleh\n", r.stderr)
        v = fields(shim.log.wait(" verdict "))
        self.assertEqual(v["listener"], "gw6")
        self.assertEqual(v["host"], "fd70:6e6d:2::2:443")
        self.assertEqual((v["verdict"], v["rule"]),
                         ("pass", "fd70:6e6d:2:0:0::2"), v)


class Race(Names):
    """RFC 8305: a dead IPv6 address costs one stagger, once."""

    def dial_line(self, shim):
        return fields(shim.log.wait(r" dial host=api\.test .* connected "))

    def test_refused_ipv6_address_falls_back_at_once_and_is_remembered(self):
        port, _ = self.rev_server()
        # ::1 first in the file, and nothing listens on [::1]:port
        self.hosts.write_text("::1 api.test\n127.0.0.1 api.test\n")
        ini = self.ini("api.test:%d" % port, self.domain(
            "api.test", [pin_of(self.pki / "leaf.pem")]))
        status = free_port()
        shim = Shim(self, "[shim]\nlog_level = debug\nstatus = 127.0.0.1:%d\n"
                    % status + ini)
        self.assertEqual(self.echo(), b"olleh\n")
        d = self.dial_line(shim)
        self.assertEqual((d["addr"], d["attempts"]),
                         ("127.0.0.1:%d" % port, "2"), d)
        self.assertLess(int(d["ms"]), 250, d)   # refused: no stagger wait
        self.assertIn("addr=[::1]:%d attempt=1 of 2" % port, shim.log.text())
        self.assertEqual(shim.verdict()["addr"], "127.0.0.1:%d" % port)
        self.assertEqual(self.echo(), b"olleh\n")
        d = self.dial_line(shim)
        self.assertEqual(d["attempts"], "1", d)  # straight to the live one
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % status,
                                    timeout=WAIT) as r:
            metrics = r.read().decode()
        for result, n in (("connected", 2), ("failed", 1), ("abandoned", 0)):
            self.assertIn('pinshim_upstream_connect_attempts_total{result="%s"}'
                          ' %d\n' % (result, n), metrics)

    def test_blackholed_ipv6_address_costs_one_stagger_not_the_timeout(self):
        self.netns("pnm-d")
        port, tport = 8443, 8080
        d = Path(self.tmp)
        rules = d / "drop.nft"
        # SYNs to [::1]:port vanish: the connect hangs, as to a dead host
        rules.write_text("""table inet pnm-d {
  chain output {
    type filter hook output priority 0; policy accept;
    ip6 daddr ::1 tcp dport %d drop
  }
}
""" % port)
        sh(*ns_exec("pnm-d", "nft", "-f", rules))
        p = self.pki
        Proc(self, ns_exec("pnm-d", "openssl", "s_server", "-quiet", "-rev",
                           "-accept", "127.0.0.1:%d" % port, "-cert",
                           p / "leaf.pem", "-key", p / "leaf.key",
                           "-cert_chain", p / "inter.pem"), "server")
        ns_wait_port("pnm-d", "127.0.0.1", port)
        self.hosts.write_text("127.0.0.1 api.test\n::1 api.test\n")
        ini = "[shim]\nlog_level = debug\n" + self.ini(
            "api.test:%d" % port, self.domain(
                "api.test", [pin_of(p / "leaf.pem")]), port=tport)
        shim = self.shim_in("pnm-d", ini)

        def app():
            t0 = time.monotonic()
            r = subprocess.run(ns_exec("pnm-d", "bash", "-c",
                                       "exec 3<>/dev/tcp/127.0.0.1/%d; "
                                       "echo hello >&3; head -c 6 <&3"
                                       % tport),
                               capture_output=True, text=True, timeout=WAIT)
            return r.stdout, time.monotonic() - t0
        out, took = app()
        self.assertEqual(out, "olleh\n")
        first = self.dial_line(shim)
        self.assertEqual((first["addr"], first["attempts"]),
                         ("127.0.0.1:%d" % port, "2"), first)
        # IPv6 tried first, pending; IPv4 after the 250 ms stagger wins,
        # long before connect_timeout (5 s)
        self.assertGreaterEqual(int(first["ms"]), 250, first)
        self.assertLess(int(first["ms"]), 1000, first)
        self.assertLess(took, 3)
        out, took2 = app()
        self.assertEqual(out, "olleh\n")
        second = self.dial_line(shim)
        self.assertEqual(second["attempts"], "1", second)
        self.assertLess(int(second["ms"]), 250, second)
        print("\n  blackholed ::1: first connect %s ms (app %.0f ms), "
              "second %s ms (app %.0f ms)" % (first["ms"], took * 1000,
                                              second["ms"], took2 * 1000))


class Binds(Names):

    def test_ipv4_and_ipv6_wildcards_on_one_port_both_serve(self):
        self.netns("pnm-d")
        p = self.pki
        Proc(self, ns_exec("pnm-d", "openssl", "s_server", "-quiet", "-rev",
                           "-accept", "127.0.0.1:8443", "-cert",
                           p / "leaf.pem", "-key", p / "leaf.key",
                           "-cert_chain", p / "inter.pem"), "server")
        ns_wait_port("pnm-d", "127.0.0.1", 8443)
        listeners = ""
        for name, bind in (("v4", "0.0.0.0:8080"), ("v6", "[::]:8080")):
            listeners += "[listen:%s]\nmode = tunnel\nbind = %s\n" \
                "connect = api.test:8443\n" % (name, bind)
        ini = self.ini(None, self.domain("api.test", [pin_of(p / "leaf.pem")]),
                       listeners=listeners)
        shim = self.shim_in("pnm-d", ini)
        for host, name in (("127.0.0.1", "v4"), ("::1", "v6")):
            r = subprocess.run(ns_exec("pnm-d", "bash", "-c",
                                       "exec 3<>/dev/tcp/%s/8080; echo hello "
                                       ">&3; head -c 6 <&3" % host),
                               capture_output=True, text=True, timeout=WAIT)
            self.assertEqual(r.stdout, "olleh\n", r.stderr)
            v = fields(shim.log.wait(" verdict "))
            self.assertEqual((v["listener"], v["verdict"]), (name, "pass"), v)
