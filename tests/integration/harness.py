"""Shared machinery for pinshim's integration tests.

Real peers only: the pinshim binary, openssl s_server, nginx, curl,
mitmproxy, and Python's ssl module (OpenSSL) where a test needs a server
that misbehaves on purpose. Everything listens on 127.0.0.1 with ports the
kernel hands out; every process a test starts is stopped by its cleanup;
waits are on readiness (a port accepting, a log line), never on sleeps.
"""

import hashlib
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = os.environ.get("BUILD", "build")
PINSHIM = ROOT / BUILD / "pinshim"
# EMU: how to run a binary built for another machine (a cross build under
# qemu-user: "qemu-aarch64-static -L /usr/aarch64-linux-gnu"); "" natively.
EMU = shlex.split(os.environ.get("EMU", ""))
PINSHIM_CMD = EMU + [str(PINSHIM)]
WAIT = float(os.environ.get("PINSHIM_TEST_WAIT", "20"))

_pki = None


def pki():
    """The test PKI, generated once per run by tests/pki.sh."""
    global _pki
    if _pki is None:
        d = Path(tempfile.mkdtemp(prefix="pinshim-pki-"))
        subprocess.run(["sh", str(ROOT / "tests" / "pki.sh"), str(d)],
                       check=True)
        _pki = d
    return _pki


def cleanup_pki():
    if _pki is not None:
        shutil.rmtree(_pki, ignore_errors=True)


def pin_of(cert):
    """The pin as openssl computes it: the reference the shim must match."""
    pub = subprocess.run(["openssl", "x509", "-in", str(cert), "-pubkey",
                          "-noout"], check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"],
                         input=pub, check=True, capture_output=True).stdout
    import base64
    return "sha256/" + base64.b64encode(hashlib.sha256(der).digest()).decode()


_ports_given = set()


def free_port():
    """A port nothing listens on now, and never one this process handed
    out before: the kernel may give the same free port to two calls in a
    row, and a test that asks for two (a listener and a status port) then
    binds one of them twice."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port


def wait_port(port, proc=None, timeout=WAIT):
    """Until something accepts on 127.0.0.1:port."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise AssertionError("process exited (%s) before port %d opened"
                                 % (proc.returncode, port))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise AssertionError("nothing accepted on port %d in %ss" % (port, timeout))


class LogFile:
    """A process's output file that tests wait on, line by line. Each
    pattern has its own cursor: waiting for one kind of line never skips
    lines of another kind (a verdict logged before a feed message)."""

    def __init__(self, path):
        self.path = Path(path)
        self.cursors = {}

    def text(self):
        try:
            return self.path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait(self, pattern, timeout=WAIT, proc=None):
        """Wait for the next line matching pattern after its last match."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while True:
            text = self.text()
            pos = self.cursors.get(pattern, 0)
            for line in text[pos:].splitlines(keepends=True):
                if not line.endswith("\n"):
                    break
                pos += len(line)
                if rx.search(line):
                    self.cursors[pattern] = pos
                    return line
            if time.monotonic() > end:
                raise AssertionError("no log line matching %r in %ss; log:\n%s"
                                     % (pattern, timeout, text[-3000:]))
            if proc is not None and proc.poll() is not None:
                raise AssertionError("process exited (%s) waiting for %r; "
                                     "log:\n%s" % (proc.returncode, pattern,
                                                   text[-3000:]))
            time.sleep(0.02)


FIELD = re.compile(r'(\w+)=("([^"]*)"|\S+)')


def fields(line):
    return {k: (q if q or v.startswith('"') else v)
            for k, v, q in FIELD.findall(line)}


class Proc:
    """A started process with its output in a file, stopped at cleanup."""

    def __init__(self, test, argv, name, cwd=None, env=None, preexec=None):
        self.log = LogFile(Path(test.tmp) / ("%s.log" % name))
        self.out = open(self.log.path, "wb")
        self.p = subprocess.Popen(argv, stdout=self.out,
                                  stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, cwd=cwd, env=env,
                                  start_new_session=True,
                                  preexec_fn=preexec)
        test.addCleanup(self.stop)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self.out.close()
        return self.p.returncode


def faketime_env(when):
    """Environment that starts the process's clock at `when` (a datetime)
    and lets it run, via libfaketime (Debian: faketime); timers keep the
    real monotonic clock."""
    import glob
    libs = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
    if not libs:
        raise AssertionError("libfaketime not installed (tests/deps.sh "
                             "test installs faketime)")
    env = {"LD_PRELOAD": libs[0],
           "FAKETIME": when.strftime("@%Y-%m-%d %H:%M:%S"),
           "FAKETIME_DONT_FAKE_MONOTONIC": "1",
           "TZ": "UTC"}
    # under ASan, libfaketime comes first in the preload list
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:" \
        "verify_asan_link_order=0"
    return env


def sanitized():
    """Whether pinshim was built with AddressSanitizer (make SAN=1): its
    allocator, not glibc's, then decides what RSS does."""
    try:
        return b"__asan_init" in PINSHIM.read_bytes()
    except OSError:
        return False


SANITIZER = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:")


class Shim(Proc):
    """pinshim run -c FILE, started and checked on stop."""

    def __init__(self, test, ini, name="pinshim", nofile=None, env=None,
                 wrap=()):
        """nofile: run under RLIMIT_NOFILE soft = hard = nofile; env:
        variables to add (faketime's, say); wrap: a command that runs
        pinshim's (its argv follows wrap's)."""
        self.stopped = False
        self.ini = Path(test.tmp) / ("%s.ini" % name)
        self.ini.write_text(ini)
        env = dict(os.environ, **(env or {}))
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        preexec = None
        if nofile is not None:
            import resource

            def preexec():
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        super().__init__(test, list(wrap) + PINSHIM_CMD +
                         ["run", "-c", str(self.ini)], name, env=env,
                         preexec=preexec)
        self.test = test
        self.log.wait(r"pinshim started", proc=self.p)

    def verdict(self, timeout=WAIT, listener=None):
        pattern = r" verdict listener=%s " % listener if listener else \
            r" verdict "
        return fields(self.log.wait(pattern, timeout, self.p))

    def closed(self, timeout=WAIT):
        return fields(self.log.wait(r" close listener=", timeout, self.p))

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.stopped:
            return self.p.returncode
        self.stopped = True
        rc = super().stop(sig, timeout)
        text = self.log.text()
        if SANITIZER.search(text):
            raise AssertionError("sanitizer report in pinshim log:\n" +
                                 text[-6000:])
        if sig == signal.SIGTERM and rc != 0:
            raise AssertionError("pinshim exited %s on SIGTERM; log:\n%s"
                                 % (rc, text[-3000:]))
        return rc


class SServer(Proc):
    """openssl s_server on port (a fresh one if None), serving cert and
    key (and chain) with extra ("-www": a status page; "-rev": each line
    reversed), accepting: returned once its port takes connections.
    Stop it and start another on the same .port to rotate a server's
    certificate."""

    def __init__(self, test, cert, key, chain=None, extra=("-www",),
                 port=None, name="s_server"):
        self.port = port or free_port()
        argv = ["openssl", "s_server", "-accept", "127.0.0.1:%d" % self.port,
                "-cert", str(cert), "-key", str(key), "-quiet", "-naccept",
                "1000"]
        if chain:
            argv += ["-cert_chain", str(chain)]
        super().__init__(test, argv + list(extra), name)
        wait_port(self.port, self.p)


def s_server(test, cert, key, chain=None, extra=("-www",), name="s_server"):
    """openssl s_server on a fresh port, waited for: (port, SServer)."""
    srv = SServer(test, cert, key, chain, extra, name=name)
    return srv.port, srv


def wait_for(cond, what, timeout=WAIT, interval=0.05):
    """Poll cond() until it is true; fail naming what (a string, or a
    function giving one: the state to show) after timeout seconds. The
    timeout is a liveness limit, never a timing claim."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("not within %ss: %s" % (
                timeout, what() if callable(what) else what))
        time.sleep(interval)


def nginx(test, cert_chain, key, docroot, name="nginx", plain_port=None,
          port=None, server_extra=""):
    """nginx serving docroot over TLS (one process, no daemon), and over
    plain HTTP too on plain_port if given; on port if given (a restart
    on the same one), with server_extra in its server block."""
    port = port or free_port()
    plain = ("listen 127.0.0.1:%d;" % plain_port) if plain_port else ""
    prefix = Path(test.tmp) / name
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text("""
daemon off;
master_process off;
worker_processes 1;
error_log %(p)s/logs/error.log;
pid %(p)s/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %(p)s/body;
    proxy_temp_path %(p)s/proxy;
    fastcgi_temp_path %(p)s/fastcgi;
    uwsgi_temp_path %(p)s/uwsgi;
    scgi_temp_path %(p)s/scgi;
    keepalive_requests 100000;
    server {
        listen 127.0.0.1:%(port)d ssl;
        %(plain)s
        ssl_certificate %(chain)s;
        ssl_certificate_key %(key)s;
        root %(root)s;
        %(extra)s
    }
}
""" % {"p": prefix, "port": port, "chain": cert_chain, "key": key,
       "root": docroot, "plain": plain, "extra": server_extra})
    proc = Proc(test, ["nginx", "-p", str(prefix), "-c", str(conf),
                       "-e", str(prefix / "logs" / "error.log")], name)
    wait_port(port, proc.p)
    if plain_port:
        wait_port(plain_port, proc.p)
    return port, proc


class TLSServer(threading.Thread):
    """A Python-ssl (OpenSSL) server for behaviours the stock servers lack:
    echo with half-close, reset mid-stream, flood without reading."""

    def __init__(self, test, cert_chain, key, handler, tls=True,
                 addr=("127.0.0.1", 0)):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        try:
            self.sock.bind(addr)
        except OSError:
            self.sock.close()
            raise
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.ctx = None
        if tls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(str(cert_chain), str(key))
        self.handler = handler
        self.stopping = False
        self.errors = []
        self.results = []
        self.start()
        test.addCleanup(self.close)

    def run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        try:
            if self.ctx is not None:
                conn = self.ctx.wrap_socket(conn, server_side=True,
                                             suppress_ragged_eofs=False)
            self.results.append(self.handler(conn))
        except Exception as e:  # recorded for the test to assert on
            self.errors.append(e)
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self):
        self.stopping = True
        self.sock.close()


def recv_all(s):
    """Everything s sends until it closes (a reset raises)."""
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def http_get(port, path="/", host="api.test", timeout=WAIT):
    """A plain HTTP/1.0 GET through a tunnel; returns (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, host))
                  .encode())
        data = recv_all(s)
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, body


def refused_silently(port, payload=b"GET / HTTP/1.0\r\n\r\n", timeout=WAIT):
    """Connect, send, and return what came back before the close (must be
    nothing for a refused upstream)."""
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(payload)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
    return got


class ShimTest(unittest.TestCase):
    """Base: a temp dir per test, the PKI, and config helpers."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pinshim-test-")
        if os.environ.get("PINSHIM_KEEP"):
            print("\n  (keeping %s)" % self.tmp)
        else:
            self.addCleanup(shutil.rmtree, self.tmp, True)
        self.pki = pki()
        self.hosts = Path(self.tmp) / "hosts"
        self.hosts.write_text("127.0.0.1 api.test www.api.test feeds.api.test other.test "
                              "blocked.test\n")

    def ini(self, connect, domains="", port=None, default_policy="block",
            ca_file=None, extra_upstream="", listeners=None):
        self.port = port or free_port()
        text = """[upstream]
ca_file = %s
hosts_file = %s
default_policy = %s
connect_timeout = 5
handshake_timeout = 5
%s
%s
""" % (ca_file or self.pki / "ca.pem", self.hosts, default_policy,
            extra_upstream, domains)
        if listeners is None:
            text += """
[listen:api]
mode = tunnel
bind = 127.0.0.1:%d
connect = %s
""" % (self.port, connect)
        else:
            text += listeners
        return text

    def domain(self, pattern, pins=(), policy="pin"):
        s = "[domain:%s]\npolicy = %s\n" % (pattern, policy)
        if pins:
            s += "pins = %s\n" % ", ".join(pins)
        return s + "\n"
