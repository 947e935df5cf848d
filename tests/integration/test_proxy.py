"""Upstreams through an HTTP CONNECT proxy: Debian's squid as the only way
out. pinshim runs in a network namespace (ppx-shim) whose one link leads
to this host's 10.209.1.1, where squid listens; the upstreams listen on
127.0.0.1 here, which only squid can reach. pinshim's hosts_file knows
the proxy's name and nothing else, and no name server answers in its
namespace: a target it tried to resolve itself could not be found."""

import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

from harness import (PINSHIM_CMD, WAIT, Proc, SServer, Shim, ShimTest,
                     pin_of, free_port, recv_all, wait_for)
from test_feed import FeedTest

NS = "ppx-shim"
HOST_IF, NS_IF = "ppx-h", "ppx-n"
CLIENT_NS, CLIENT_IF, GW_IF = "ppx-c", "ppx-c0", "ppx-g0"
FAR = "10.209.3.3"      # where the transparent client thinks it goes
UP_NS, UP_HOST_IF, UP_NS_IF = "ppx-up", "ppx-u", "ppx-u0"
UP_ADDR = "10.209.4.2"  # an upstream on port 443, in its own namespace
GW, ME = "10.209.1.1", "10.209.1.2"     # squid's side, pinshim's side
SQUID = "/usr/sbin/squid"
NCSA = "/usr/lib/squid/basic_ncsa_auth"


def sh(*argv):
    return subprocess.run([str(a) for a in argv], capture_output=True,
                          text=True, check=True)


class Netns:
    """The namespace and its link, made for one test and removed after."""

    @staticmethod
    def why_not():
        if os.geteuid() != 0:
            return "needs root to create network namespaces"
        if not shutil.which("ip"):
            return "needs iproute2 (tests/deps.sh test)"
        if not os.path.exists(SQUID):
            return "needs squid (tests/deps.sh test)"
        try:
            pwd.getpwnam("proxy")
        except KeyError:
            return "needs the proxy user squid runs as"
        return None

    @staticmethod
    def make(test):
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)
        subprocess.run(["ip", "link", "del", HOST_IF], capture_output=True)
        sh("ip", "netns", "add", NS)
        test.addCleanup(subprocess.run, ["ip", "netns", "del", NS],
                        capture_output=True)
        sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name",
           NS_IF, "netns", NS)
        test.addCleanup(subprocess.run, ["ip", "link", "del", HOST_IF],
                        capture_output=True)
        sh("ip", "addr", "add", GW + "/30", "dev", HOST_IF)
        sh("ip", "link", "set", HOST_IF, "up")
        for args in (("addr", "add", ME + "/30", "dev", NS_IF),
                     ("link", "set", NS_IF, "up"),
                     ("link", "set", "lo", "up")):
            sh("ip", "netns", "exec", NS, "ip", *args)


def wait_tcp(addr, port, proc=None):
    def up():
        if proc is not None and proc.poll() is not None:
            raise AssertionError("exited (%s) before %s:%d opened"
                                 % (proc.returncode, addr, port))
        try:
            socket.create_connection((addr, port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_for(up, "%s:%d accepting" % (addr, port))


class SquidMixin:
    """squid -N with a generated configuration under the test dir."""

    def squid_setup(self):
        why = Netns.why_not()
        if why:
            print("\n  SKIPPED proxy tests: %s" % why)
            self.skipTest(why)
        Netns.make(self)
        os.chmod(self.tmp, 0o711)       # squid drops to user proxy
        # pinshim's names: the proxy's, nothing else
        self.ns_hosts = Path(self.tmp) / "ns-hosts"
        self.ns_hosts.write_text("%s proxy.test direct.api.test\n" % GW)
        self.squid_port = free_port()
        self.proxy_url = "http://proxy.test:%d" % self.squid_port

    def squid(self, ports, auth=None, name="squid", rules=""):
        """squid on GW allowing CONNECT to ports (others get 403); auth:
        (user, password) to require Basic credentials (else 407); rules:
        http_access lines that come first."""
        d = Path(self.tmp) / name
        d.mkdir()
        proxy = pwd.getpwnam("proxy")
        os.chown(d, proxy.pw_uid, proxy.pw_gid)
        if auth:
            htpasswd = d / "htpasswd"
            hashed = subprocess.run(["openssl", "passwd", "-apr1", auth[1]],
                                    capture_output=True, text=True,
                                    check=True).stdout.strip()
            htpasswd.write_text("%s:%s\n" % (auth[0], hashed))
            os.chmod(htpasswd, 0o644)
            rules += """auth_param basic program %s %s
auth_param basic realm ppx
acl authed proxy_auth REQUIRED
http_access deny !authed
""" % (NCSA, htpasswd)
        conf = d / "squid.conf"
        conf.write_text("""http_port %(gw)s:%(port)d
pid_filename %(d)s/squid.pid
cache_log %(d)s/cache.log
access_log stdio:%(d)s/access.log
cache deny all
coredump_dir %(d)s
hosts_file %(hosts)s
dns_nameservers 127.0.0.1
netdb_filename none
pinger_enable off
shutdown_lifetime 0 seconds
cache_effective_user proxy
acl CONNECT method CONNECT
acl test_ports port %(ports)s
%(rules)shttp_access allow CONNECT test_ports
http_access deny all
""" % {"gw": GW, "port": self.squid_port, "d": d, "hosts": self.hosts,
            "ports": " ".join(str(p) for p in ports), "rules": rules})
        proc = Proc(self, [SQUID, "-N", "-f", str(conf)], name)
        wait_tcp(GW, self.squid_port, proc.p)
        self.squid_log = d / "access.log"
        return proc

    def squid_saw(self, what):
        """Until squid's access log has a line with what in it."""
        def seen():
            try:
                return what in self.squid_log.read_text()
            except FileNotFoundError:
                return False
        wait_for(seen, lambda: "squid's access.log to show %r" % what)


class SquidCase(SquidMixin, ShimTest):
    """pinshim in its namespace, squid its way out; helpers only."""

    def setUp(self):
        super().setUp()
        self.squid_setup()
        self.inter = pin_of(self.pki / "inter.pem")

    def shim(self, listeners, upstream="", domains=None, state=None,
             shim=""):
        """pinshim in the namespace, [upstream] proxy = squid; shim: more
        [shim] lines."""
        ini = """[shim]
%s%s
[upstream]
ca_file = %s
hosts_file = %s
nameservers = 127.0.0.1
default_policy = block
connect_timeout = 5
handshake_timeout = 5
proxy = %s
%s
%s
%s""" % ("state_dir = %s\n" % state if state else "", shim,
         self.pki / "ca.pem", self.ns_hosts, self.proxy_url, upstream,
         domains if domains is not None else
         self.domain("**.api.test", [self.inter]), listeners)
        return Shim(self, ini, wrap=["ip", "netns", "exec", NS])

    def tunnel(self, name, up_port, host="api.test", extra=""):
        port = free_port()
        return port, "[listen:%s]\nmode = tunnel\nbind = %s:%d\n" \
            "connect = %s:%d\n%s\n" % (name, ME, port, host, up_port, extra)

    def upstream(self, leaf="leaf", chain="inter.pem"):
        return SServer(self, self.pki / ("%s.pem" % leaf),
                       self.pki / ("%s.key" % leaf),
                       self.pki / chain if chain else None)

    def get(self, port):
        """GET / through a tunnel listener: (status, bytes); a refused
        one is closed (reset) with nothing."""
        with socket.create_connection((ME, port), timeout=WAIT) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            try:
                data = recv_all(s)
            except ConnectionResetError:
                data = b""
        return data.split(b" ", 2)[1] if data.startswith(b"HTTP/") \
            else b"", data

    def auth_file(self, name, text, mode=0o600):
        p = Path(self.tmp) / name
        p.write_text(text)
        os.chmod(p, mode)
        return p


class ViaSquid(SquidCase):

    # --- tunnel ---------------------------------------------------------

    def test_tunnel_through_squid_is_pinned_end_to_end(self):
        up = self.upstream()
        self.squid([up.port])
        port, listen = self.tunnel("api", up.port)
        shim = self.shim(listen)
        status, _ = self.get(port)
        self.assertEqual(status, b"200")
        v = shim.verdict(listener="api")
        self.assertEqual((v["verdict"], v["proxy"], v["addr"]),
                         ("pass", "proxy.test:%d" % self.squid_port,
                          "%s:%d" % (GW, self.squid_port)))
        self.assertEqual(v["detail"], "pin matched an intermediate")
        # squid resolved the name, not pinshim (whose hosts_file lacks it)
        self.squid_saw("CONNECT api.test:%d" % up.port)

    def test_rogue_upstream_behind_the_proxy_is_refused_with_its_pins(self):
        up = self.upstream("rogue", chain=None)
        self.squid([up.port])
        port, listen = self.tunnel("api", up.port)
        shim = self.shim(listen)
        status, data = self.get(port)
        self.assertEqual(data, b"")
        v = shim.verdict(listener="api")
        self.assertEqual((v["verdict"], v["reason"], v["proxy"]),
                         ("refuse", "pin-mismatch",
                          "proxy.test:%d" % self.squid_port))
        self.assertIn(pin_of(self.pki / "rogue.pem"), v["presented"])
        self.assertEqual(v["anchor"], pin_of(self.pki / "rogue-root.pem"))

    def test_proxy_that_denies_is_a_refusal_naming_its_status_line(self):
        up = self.upstream()
        self.squid([up.port + 1 if up.port < 65535 else up.port - 1])
        port, listen = self.tunnel("api", up.port)
        sport = free_port()
        shim = self.shim(listen, shim="status = %s:%d\nstatus_allow = "
                         "%s/32" % (ME, sport, GW))
        self.assertEqual(self.get(port)[1], b"")
        v = shim.verdict(listener="api")
        self.assertEqual((v["verdict"], v["reason"], v["policy"]),
                         ("refuse", "proxy-refused", "pin"))
        self.assertEqual(v["detail"], "proxy proxy.test:%d answered: "
                         "HTTP/1.1 403 Forbidden" % self.squid_port)
        self.squid_saw("TCP_DENIED/403")
        self.assertNotIn("verdict=pass", shim.log.text())
        # counted like every refusal
        with socket.create_connection((ME, sport), timeout=WAIT) as s:
            s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            metrics = recv_all(s).decode()
        self.assertIn('pinshim_verdicts_total{listener="api",policy="pin",'
                      'verdict="refuse",reason="proxy-refused"} 1', metrics)

    def test_unreachable_proxy_is_connect_failed_naming_it(self):
        up = self.upstream()
        # no squid at all: nothing listens on the proxy's port
        port, listen = self.tunnel("api", up.port)
        shim = self.shim(listen)
        self.assertEqual(self.get(port)[1], b"")
        v = shim.verdict(listener="api")
        self.assertEqual((v["verdict"], v["reason"]),
                         ("refuse", "connect-failed"))
        self.assertIn("proxy proxy.test:%d unreachable: %s:%d: Connection "
                      "refused" % (self.squid_port, GW, self.squid_port),
                      v["detail"])

    # --- credentials ----------------------------------------------------

    def test_basic_auth_passes_and_a_wrong_password_gets_407(self):
        up = self.upstream()
        self.squid([up.port], auth=("gw", "s3cret:with colon"))
        good = self.auth_file("good", "gw:s3cret:with colon\n")
        bad = self.auth_file("bad", "gw:wrong")
        p_good, l_good = self.tunnel(
            "good", up.port, extra="proxy = %s\nproxy_auth_file = %s"
            % (self.proxy_url, good))
        p_none, l_none = self.tunnel("none", up.port,
                                     extra="proxy = %s" % self.proxy_url)
        p_bad, l_bad = self.tunnel("bad", up.port)   # [upstream]'s
        shim = self.shim(l_good + l_none + l_bad,
                         upstream="proxy_auth_file = %s" % bad)
        self.assertEqual(self.get(p_good)[0], b"200")
        v = shim.verdict(listener="good")
        self.assertEqual(v["verdict"], "pass")
        for port, name in ((p_bad, "bad"), (p_none, "none")):
            self.assertEqual(self.get(port)[1], b"")
            v = shim.verdict(listener=name)
            self.assertEqual((v["verdict"], v["reason"]),
                             ("refuse", "proxy-refused"), name)
            self.assertIn("HTTP/1.1 407 Proxy Authentication Required",
                          v["detail"])
        # the password never reaches the log
        self.assertNotIn("s3cret", shim.log.text())

    def test_auth_file_others_may_read_is_refused_at_load(self):
        loose = self.auth_file("loose", "gw:pw\n", 0o640)
        ini = Path(self.tmp) / "t.ini"
        ini.write_text("[upstream]\nca_file = %s\nproxy = %s\n"
                       "proxy_auth_file = %s\n[listen:a]\nmode = tunnel\n"
                       "bind = 127.0.0.1:%d\nconnect = api.test:443\n"
                       % (self.pki / "ca.pem", self.proxy_url, loose,
                          free_port()))
        r = subprocess.run(PINSHIM_CMD + ["run", "-t", "-c", str(ini)],
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("%s:4: [upstream] proxy_auth_file: %s: readable or "
                      "writable by group or others (mode 640)"
                      % (ini, loose), r.stderr)
        os.chmod(loose, 0o600)
        r = subprocess.run(PINSHIM_CMD + ["run", "-t", "-c", str(ini)],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    # --- no_proxy --------------------------------------------------------

    def test_no_proxy_hosts_go_direct(self):
        up = self.upstream()
        direct = free_port()
        srv = Proc(self, ["openssl", "s_server", "-quiet", "-www", "-accept",
                          "%s:%d" % (GW, direct), "-cert",
                          self.pki / "leaf.pem", "-key",
                          self.pki / "leaf.key", "-cert_chain",
                          self.pki / "inter.pem"], "direct")
        wait_tcp(GW, direct, srv.p)
        self.squid([up.port])
        p_name, l_name = self.tunnel("byname", direct, host="direct.api.test")
        p_ip, l_ip = self.tunnel("byip", direct, host=GW)
        p_via, l_via = self.tunnel("via", up.port)
        shim = self.shim(l_name + l_ip + l_via,
                         upstream="no_proxy = **.direct.api.test, "
                         "10.209.1.0/30",
                         domains=self.domain("**.api.test", [self.inter]) +
                         self.domain(GW, [self.inter]))
        self.assertEqual(self.get(p_name)[0], b"200")
        v = shim.verdict(listener="byname")
        self.assertEqual((v["verdict"], v["addr"]),
                         ("pass", "%s:%d" % (GW, direct)))
        self.assertNotIn("proxy", v)
        # by address: reached directly (the test leaf has no IP SAN, so
        # its name check is what refuses it, after the handshake)
        self.get(p_ip)
        v = shim.verdict(listener="byip")
        self.assertEqual((v["reason"], v["addr"]),
                         ("name-mismatch", "%s:%d" % (GW, direct)))
        self.assertNotIn("proxy", v)
        # and the proxy is still used for the rest
        self.assertEqual(self.get(p_via)[0], b"200")
        self.assertEqual(shim.verdict(listener="via")["proxy"],
                         "proxy.test:%d" % self.squid_port)
        self.squid_saw("CONNECT api.test:%d" % up.port)
        log = self.squid_log.read_text()
        self.assertNotIn("direct.api.test", log)
        self.assertNotIn("CONNECT %s" % GW, log)

    # --- forward mode ----------------------------------------------------

    def test_forward_connect_is_intercepted_and_goes_through_squid(self):
        state = Path(self.tmp) / "state"
        state.mkdir()
        r = subprocess.run(PINSHIM_CMD + ["ca", "init", str(state / "ca")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        up = self.upstream()
        denied = free_port()            # pinshim's ports allow it, squid not
        self.squid([up.port])
        port = free_port()
        shim = self.shim("[listen:fwd]\nmode = forward\nbind = %s:%d\n"
                         "allow = %s/32\nports = %d, %d\n"
                         % (ME, port, GW, up.port, denied), state=state)
        r = subprocess.run(["curl", "-sS", "-m", str(WAIT), "--cacert",
                            str(state / "ca" / "ca.pem"), "-x",
                            "http://%s:%d" % (ME, port), "-o", "/dev/null",
                            "-w", "%{http_code}",
                            "https://api.test:%d/" % up.port],
                           capture_output=True, text=True)
        self.assertEqual(r.stdout, "200", r.stderr)
        v = shim.verdict(listener="fwd")
        self.assertEqual((v["verdict"], v["proxy"]),
                         ("pass", "proxy.test:%d" % self.squid_port))
        self.squid_saw("CONNECT api.test:%d" % up.port)
        # the proxy's refusal is found after the app's ClientHello (forward
        # mode dials with the app's ALPN): the app gets a TLS alert, and
        # the verdict line names the proxy's answer
        r = subprocess.run(["curl", "-sS", "-m", str(WAIT), "--cacert",
                            str(state / "ca" / "ca.pem"), "-x",
                            "http://%s:%d" % (ME, port), "-o", "/dev/null",
                            "https://api.test:%d/" % denied],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 35, r.stderr)     # TLS handshake
        self.assertIn("handshake failure", r.stderr)
        v = shim.verdict(listener="fwd")
        self.assertEqual((v["verdict"], v["reason"]),
                         ("refuse", "proxy-refused"))
        self.assertEqual(v["detail"], "proxy proxy.test:%d answered: "
                         "HTTP/1.1 403 Forbidden" % self.squid_port)

    def test_forward_upgrade_goes_through_squid(self):
        """http:// upgraded to https://HOST:443: the upstream gets a
        namespace of its own, so that port 443 is nobody else's."""
        state = Path(self.tmp) / "state"
        state.mkdir()
        r = subprocess.run(PINSHIM_CMD + ["ca", "init", str(state / "ca")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        subprocess.run(["ip", "netns", "del", UP_NS], capture_output=True)
        sh("ip", "netns", "add", UP_NS)
        self.addCleanup(subprocess.run, ["ip", "netns", "del", UP_NS],
                        capture_output=True)
        sh("ip", "link", "add", UP_HOST_IF, "type", "veth", "peer", "name",
           UP_NS_IF, "netns", UP_NS)
        self.addCleanup(subprocess.run, ["ip", "link", "del", UP_HOST_IF],
                        capture_output=True)
        sh("ip", "addr", "add", "10.209.4.1/30", "dev", UP_HOST_IF)
        sh("ip", "link", "set", UP_HOST_IF, "up")
        for args in (("addr", "add", UP_ADDR + "/30", "dev", UP_NS_IF),
                     ("link", "set", UP_NS_IF, "up")):
            sh("ip", "netns", "exec", UP_NS, "ip", *args)
        srv = Proc(self, ["ip", "netns", "exec", UP_NS, "openssl",
                          "s_server", "-quiet", "-www", "-accept",
                          "%s:443" % UP_ADDR, "-cert", self.pki / "leaf.pem",
                          "-key", self.pki / "leaf.key", "-cert_chain",
                          self.pki / "inter.pem"], "up443")
        wait_tcp(UP_ADDR, 443, srv.p)
        self.hosts.write_text("%s up.api.test\n" % UP_ADDR)   # squid's
        self.squid([443])
        port = free_port()
        shim = self.shim("[listen:fwd]\nmode = forward\nbind = %s:%d\n"
                         "allow = %s/32\n" % (ME, port, GW),
                         domains=self.domain("up.api.test", [self.inter]) +
                         "upgrade = yes\n", state=state)
        r = subprocess.run(["curl", "-sS", "-m", str(WAIT), "-x",
                            "http://%s:%d" % (ME, port), "-o", "/dev/null",
                            "-w", "%{http_code}", "http://up.api.test/"],
                           capture_output=True, text=True)
        self.assertEqual(r.stdout, "200", r.stderr)
        v = shim.verdict(listener="fwd")
        self.assertEqual((v["verdict"], v["host"], v["proxy"]),
                         ("pass", "up.api.test:443",
                          "proxy.test:%d" % self.squid_port))
        self.squid_saw("CONNECT up.api.test:443")


class TransparentViaSquid(SquidCase):
    """client ns -> pinshim's ns (nftables REDIRECT to a transparent
    listener) -> squid -> the upstream. The address the client dialled
    does not exist: through a proxy, only the name (SNI) is sent."""

    def setUp(self):
        super().setUp()
        if not shutil.which("nft"):
            self.skipTest("needs nftables (tests/deps.sh test)")
        subprocess.run(["ip", "netns", "del", CLIENT_NS],
                       capture_output=True)
        sh("ip", "netns", "add", CLIENT_NS)
        self.addCleanup(subprocess.run, ["ip", "netns", "del", CLIENT_NS],
                        capture_output=True)
        sh("ip", "link", "add", CLIENT_IF, "netns", CLIENT_NS, "type",
           "veth", "peer", "name", GW_IF, "netns", NS)
        for ns, args in ((CLIENT_NS, ("addr", "add", "10.209.2.2/24", "dev",
                                      CLIENT_IF)),
                         (CLIENT_NS, ("link", "set", CLIENT_IF, "up")),
                         (CLIENT_NS, ("route", "add", "default", "via",
                                      "10.209.2.1")),
                         (NS, ("addr", "add", "10.209.2.1/24", "dev",
                               GW_IF)),
                         (NS, ("link", "set", GW_IF, "up"))):
            sh("ip", "netns", "exec", ns, "ip", *args)
        self.state = Path(self.tmp) / "state"
        self.state.mkdir()
        r = subprocess.run(PINSHIM_CMD + ["ca", "init",
                                          str(self.state / "ca")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def redirect(self, dport, to):
        rules = Path(self.tmp) / "ppx.nft"
        rules.write_text("""table ip ppx {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "%s" tcp dport %d redirect to :%d
  }
}
""" % (GW_IF, dport, to))
        sh("ip", "netns", "exec", NS, "nft", "-f", rules)

    def client(self, url, *extra):
        return subprocess.run(["ip", "netns", "exec", CLIENT_NS, "curl",
                               "-sS", "-m", str(WAIT), "--cacert",
                               str(self.state / "ca" / "ca.pem"), "-o",
                               "/dev/null", "-w", "%{http_code}", *extra,
                               url], capture_output=True, text=True)

    def test_transparent_sends_the_sni_name_not_the_address(self):
        up = self.upstream()
        # an address literal goes to the proxy as it is: squid denies it
        self.squid([up.port], rules="acl far dst %s/32\n"
                   "http_access deny far\n" % FAR)
        port = free_port()
        self.redirect(up.port, port)
        shim = self.shim("[listen:gw]\nmode = transparent\n"
                         "bind = 0.0.0.0:%d\nallow = 10.209.2.0/24\n" % port,
                         domains=self.domain("**.api.test", [self.inter]) +
                         self.domain(FAR, [self.inter]),
                         state=self.state)
        r = self.client("https://api.test:%d/" % up.port, "--resolve",
                        "api.test:%d:%s" % (up.port, FAR))
        self.assertEqual(r.stdout, "200", r.stderr)
        v = shim.verdict(listener="gw")
        self.assertEqual((v["verdict"], v["host"], v["proxy"]),
                         ("pass", "api.test:%d" % up.port,
                          "proxy.test:%d" % self.squid_port))
        self.squid_saw("CONNECT api.test:%d" % up.port)
        # no SNI (an address URL): CONNECT names the original address
        r = self.client("https://%s:%d/" % (FAR, up.port))
        self.assertNotEqual(r.stdout, "200")
        v = shim.verdict(listener="gw")
        self.assertEqual((v["verdict"], v["reason"], v["host"]),
                         ("refuse", "proxy-refused",
                          "%s:%d" % (FAR, up.port)))
        self.assertIn("HTTP/1.1 403 Forbidden", v["detail"])
        self.squid_saw("CONNECT %s:%d" % (FAR, up.port))


class FeedViaSquid(SquidMixin, FeedTest):
    """The feed fetch through [upstream] proxy; [feed] proxy = none
    overrides it for pinshim's own requests only."""

    def setUp(self):
        super().setUp()
        self.squid_setup()

    def ns_ini(self, up, extra_feed=""):
        ini = self.feed_ini(up, extra_feed=extra_feed)
        ini = ini.replace("hosts_file = %s" % self.hosts,
                          "hosts_file = %s\nnameservers = 127.0.0.1\n"
                          "proxy = %s" % (self.ns_hosts, self.proxy_url))
        return ini

    def test_feed_fetch_goes_through_squid(self):
        up, _ = self.api()
        self.publish(1, [self.leaf])
        self.squid([self.feed_port])
        shim = Shim(self, self.ns_ini(up),
                    wrap=["ip", "netns", "exec", NS])
        shim.log.wait("feed: version 1 in force")
        v = shim.verdict(listener="feed")
        self.assertEqual((v["verdict"], v["detail"], v["proxy"]),
                         ("pass", "pin matched an intermediate",
                          "proxy.test:%d" % self.squid_port))
        self.squid_saw("CONNECT feeds.api.test:%d" % self.feed_port)

    def test_feed_proxy_none_goes_direct(self):
        up, _ = self.api()
        self.publish(1, [self.leaf])
        self.squid([self.feed_port])
        shim = Shim(self, self.ns_ini(up, extra_feed="proxy = none\n"),
                    wrap=["ip", "netns", "exec", NS])
        # direct, pinshim must resolve feeds.api.test itself: it cannot
        v = shim.verdict(listener="feed")
        self.assertEqual(v["verdict"], "refuse")
        self.assertIn(v["reason"], ("dns-failed", "connect-failed"))
        self.assertNotIn("proxy", v)
        self.assertNotIn("feeds.api.test", self.squid_log.read_text()
                         if self.squid_log.exists() else "")
