"""Where pinshim's worker spends its CPU: a perf profile of the worker
process under wrk load, grouped into categories, and its syscalls per
request, for the tunnel and for transparent interception.

    BUILD=build /usr/bin/python3 bench/profile.py      (as root)

Setup as bench/bench.py (tunnel: 127.0.0.1, nginx upstream over TLS 1.3,
proxy and upstream on CPU 0, wrk on CPU 1) and as bench/intercept_bench.py
(transparent: its three network namespaces, here named ppf-c, ppf-g,
ppf-s; wrk in the client's, pinshim and nginx on CPU 0). Workloads as
theirs: (a) keep-alive GET of 4 KiB over 50 connections, (b) GET of 1 MiB
over 8 connections.

For each mode x workload, while wrk runs for SECS seconds:
  perf record -F FREQ --call-graph dwarf -p WORKER   (the worker: the
      process of pinshim's tree that used the most CPU in a warm-up run)
  and, in a second wrk run, perf stat -e 'syscalls:sys_enter_*' -p WORKER:
      syscalls per request (wrk's request count for the run; for (b) a
      request is 1 MiB), with the recvfrom calls that read a 5-byte record
      header and those that found nothing (EAGAIN).
Each sample is put in one category by its leaf frame (and, for memcpy and
the like and for kernel frames, by the stack above it):

  kernel: send     under write/writev/sendto/sendmsg: the TCP/IP stack,
                   the copy from user space and, on loopback and veth,
                   the receive work for the peer done in the sender's
                   context (softirq) and waking it
  kernel: recv     under read/readv/recvfrom/recvmsg (the copy to user
                   space, TCP receive, ACKs)
  kernel: epoll    under epoll_wait/epoll_ctl
  kernel: entry    syscall entry and exit themselves (entry_SYSCALL_64,
                   do_syscall_64, the return to user space, fdget)
  kernel: other    outside those syscalls: interrupts and softirq work
                   not in one, scheduling, timers, page faults, accept
  AES-GCM          wolfSSL's AES-GCM and GHASH (AES-NI/AVX code)
  wolfSSL record   the rest of wolfSSL (record layer, ForceZero, its
                   memcpy/memset calls)
  pinshim          pinshim's own functions (relay, conn)
  libevent         libevent
  malloc/free      libc's allocator (and wolfSSL's and libevent's
                   wrappers of it), wherever called from
  other            the rest (vdso, unknown)
The rest of libc (memcpy, memset, the syscall wrappers) counts for its
caller: memcpy from wolfSSL is wolfSSL's, from evbuffer libevent's.

The machine may be shared: each share is of the worker's own samples, so
shares hold; absolute rates do not. Also prints perf report's top symbols
(--no-children --sort dso,sym) as evidence. Knobs: SECS (10), FREQ (999),
MODES (tunnel,intercept), WORKLOADS (a,b), KEEP=1 (keep perf.data files
and the temporary directory), OUT=FILE (the results as JSON).
"""

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("SECS", "10")
import bench  # noqa: E402
import intercept_bench as ib  # noqa: E402
from bench import CPU_LOAD, PINSHIM_INI, UPSTREAM, Ctx, harness  # noqa: E402

SECS = float(os.environ["SECS"])
FREQ = os.environ.get("FREQ", "999")
MODES = os.environ.get("MODES", "tunnel,intercept").split(",")
WORKLOADS = os.environ.get("WORKLOADS", "a,b").split(",")
LOADS = {"a": ("/4k", 50), "b": ("/1m", 8)}

# This script's own namespace and veth names (others may run
# intercept_bench at the same time): intercept_bench's Net and Candidate
# read these module globals when called.
ib.NS = ("ppf-c", "ppf-g", "ppf-s")
ib.VETH = "ppf"


def sh(*argv, check=True):
    return subprocess.run([str(a) for a in argv], capture_output=True,
                          text=True, check=check)


# ------------------------------------------------------------ categories

def own_symbols():
    """pinshim's own function names (every object file but wolfSSL's)."""
    names = set()
    build = harness.ROOT / harness.BUILD
    objs = [str(p) for d in ("base", "conf", "pins", "shim", "tls")
            for p in (build / d).rglob("*.o")]
    out = sh("nm", "--defined-only", *objs, check=False).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in "tTwW":
            names.add(f[2])
    return names


AES = re.compile(r"AES|Aes|aes|GCM|Gcm|gcm|GHASH|Ghash|GMULT|gfmul")
ALLOC = re.compile(r"^(_int_malloc|_int_free|malloc|free|cfree|calloc|"
                   r"realloc|_int_realloc|malloc_consolidate|tcache_\w+|"
                   r"__libc_malloc|__libc_free|__libc_calloc|"
                   r"__libc_realloc|unlink_chunk|_int_free_\w+|"
                   r"wolfSSL_Malloc|wolfSSL_Free|wolfSSL_Realloc|"
                   r"event_mm_\w+|mem_\w+alloc\w*|mem_free)(\.\w+)?$")
LIBC_COPY = re.compile(r"mem(cpy|move|set|cmp)|__memcpy|__memmove|"
                       r"__memset|strlen|__strlen")
K_ENTRY = re.compile(r"^(entry_SYSCALL|do_syscall_64|syscall_exit|"
                     r"syscall_enter|exit_to_user_mode|"
                     r"syscall_return|__x64_sys_\w+$|__x86_return_thunk|"
                     r"x64_sys_call|fpregs_|switch_fpu|"
                     r"__fdget|fdget|fput|__fget|__rcu_read|rcu_read|"
                     r"srso_|retbleed|clear_bhb|entry_\w+|"
                     r"restore_fpregs|arch_exit_to_user|"
                     r"__task_pid_nr_ns|__audit|audit_|syscall_trace_enter|"
                     r"__seccomp_filter|populate_seccomp_data|"
                     r"__secure_computing|seccomp_|bpf_prog_|"
                     r"__bpf_prog_run)")
# the syscall a kernel sample is under, by the outermost of these frames
# (the __x64_sys_ wrappers are often inlined; kernel stacks may be cut)
K_CALLS = [
    ("kernel: send", re.compile(
        r"^(__x64_sys_(write|writev|sendto|sendmsg)|do_writev|ksys_write|"
        r"__sys_sendto|__sys_sendmsg|___sys_sendmsg|vfs_write|vfs_writev|"
        r"sock_write_iter|sock_sendmsg|tcp_sendmsg|tcp_sendmsg_locked)$")),
    ("kernel: recv", re.compile(
        r"^(__x64_sys_(read|readv|recvfrom|recvmsg)|do_readv|ksys_read|"
        r"__sys_recvfrom|__sys_recvmsg|___sys_recvmsg|vfs_read|vfs_readv|"
        r"sock_read_iter|sock_recvmsg|inet_recvmsg|tcp_recvmsg|"
        r"tcp_recvmsg_locked)$")),
    ("kernel: epoll", re.compile(
        r"^(__x64_sys_epoll_\w+|do_epoll_\w+|ep_poll|ep_\w+)$")),
]

CATS = ["kernel: send", "kernel: recv", "kernel: epoll", "kernel: entry",
        "kernel: other",
        "AES-GCM", "wolfSSL record", "pinshim", "libevent", "malloc/free",
        "other"]


def user_cat(dso, sym, own):
    """A user-space frame's category; None for libc's other functions
    (their caller decides)."""
    if ALLOC.match(sym):
        return "malloc/free"
    if "libevent" in dso:
        return "libevent"
    if "pinshim" in dso:
        if sym in own:
            return "pinshim"
        if AES.search(sym):
            return "AES-GCM"
        return "wolfSSL record"
    return None if "libc" in dso else "other"


def categorize(stack, own):
    """stack: [(sym, dso)], leaf first."""
    sym, dso = stack[0]
    if "kernel" in dso or (dso.startswith("[") and
                           dso not in ("[vdso]", "[unknown]")):
        if K_ENTRY.match(sym):
            return "kernel: entry"
        for s, _ in reversed([f for f in stack if "kernel" in f[1]]):
            for cat, rx in K_CALLS:
                if rx.match(s):
                    return cat
        return "kernel: other"
    c = user_cat(dso, sym, own)
    if c:
        return c
    if "libc" in dso:
        for s, d in stack[1:]:          # a copy or the like: its caller
            if "kernel" in d:
                continue
            c = user_cat(d, s, own)
            if c:
                return c
        return "other"
    return "other"


def parse_script(text):
    """perf script -F ip,sym,dso output (a blank line ends each sample):
    a list of stacks [(sym, dso)], leaf first."""
    stacks, cur = [], []
    for line in text.splitlines():
        m = re.match(r"\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
        if m:
            sym = re.sub(r"\+0x[0-9a-f]+$", "", m.group(1))
            cur.append((sym, os.path.basename(m.group(2))))
        elif not line.strip() and cur:
            stacks.append(cur)
            cur = []
    if cur:
        stacks.append(cur)
    return stacks


def profile(data, own):
    """Shares of the worker's samples per category, the top symbols of
    perf report, and the top memcpy/memset callers."""
    out = sh("perf", "script", "-i", data, "-F", "ip,sym,dso",
             "--no-inline", check=False).stdout
    stacks = [s for s in parse_script(out) if s]
    counts = Counter(categorize(s, own) for s in stacks)
    n = max(1, len(stacks))
    shares = {c: 100.0 * counts.get(c, 0) / n for c in CATS}
    copies = Counter()
    for s in stacks:
        if "libc" in s[0][1] and (LIBC_COPY.search(s[0][0]) or
                                  ALLOC.match(s[0][0])):
            caller = next(("%s (%s)" % (x, d) for x, d in s[1:]
                           if "libc" not in d), "?")
            copies["%s <- %s" % (s[0][0], caller)] += 1
    cats = [categorize(s, own) for s in stacks]
    soft = sum(1 for s, c in zip(stacks, cats) if c == "kernel: send" and
               any(x in ("net_rx_action", "handle_softirqs", "do_softirq")
                   for x, _ in s))
    seccomp = sum(1 for s in stacks if "kernel" in s[0][1] and re.match(
        r"__seccomp_filter|populate_seccomp_data|__secure_computing|"
        r"bpf_prog_|syscall_trace_enter", s[0][0]))
    kcopy = sum(1 for s in stacks if "kernel" in s[0][1] and re.search(
        r"_copy_(to|from)_iter|copy_user|rep_movs|memcpy", s[0][0]))
    details = {"send in softirq (the peer's receive path)": soft,
               "syscall entry: seccomp filter": seccomp,
               "kernel copies to/from user space": kcopy}
    rep = sh("perf", "report", "-i", data, "--no-children", "--sort",
             "dso,sym", "--stdio", "-g", "none", "--percent-limit", "0.7",
             check=False).stdout
    top = [line.strip() for line in rep.splitlines()
           if line.strip() and not line.startswith("#")]
    return {"samples": len(stacks), "shares": shares, "top": top[:25],
            "copies": [(k, 100.0 * v / n) for k, v in
                       copies.most_common(12)],
            "details": {k: 100.0 * v / n for k, v in details.items()}}


# ------------------------------------------------------------ measuring

def run_wrk(argv):
    out = subprocess.run(argv, capture_output=True, text=True,
                         check=True).stdout
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return reqs, rps, out


def wrk_argv(url, conns, wrap=()):
    return list(wrap) + ["taskset", "-c", CPU_LOAD, "wrk", "-t1",
                         "-c%d" % conns, "-d%ds" % SECS, "-H",
                         "Host: api.test", url]


def during(tool, argv):
    """Start tool (perf record/stat) on the worker, run wrk argv, stop the
    tool with SIGINT: (wrk's result, the tool's stderr)."""
    p = subprocess.Popen(tool, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)                     # perf attaches (no readiness line)
    try:
        res = run_wrk(argv)
    finally:
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
    return res, err


# perf stat's events: two filtered ones first (read in order), then all
STAT_EVENTS = ["-e", "syscalls:sys_enter_recvfrom", "--filter", "size < 6",
               "-e", "syscalls:sys_exit_recvfrom", "--filter", "ret == -11",
               "-e", "syscalls:sys_enter_*"]
STAT_FIRST = ["recvfrom of <= 5 bytes (a record header)",
              "recvfrom that said EAGAIN"]


def syscall_counts(err):
    counts, first = {}, list(STAT_FIRST)
    for line in err.splitlines():
        f = line.split(",")
        if len(f) < 3 or not f[2].startswith("syscalls:"):
            continue
        try:
            v = int(f[0])
        except ValueError:
            v = 0
        if first:
            counts[first.pop(0)] = v
        elif v:
            counts[f[2][len("syscalls:sys_enter_"):]] = v
    return counts


def worker_of(pid, url, conns, wrap):
    """The process of pid's tree that works: the most CPU in a short warm
    run (pinshim's keeper, if any, idles)."""
    before = {p: ib.tree_cpu(p) for p in ib.tree(pid)}
    subprocess.run(list(wrap) + ["taskset", "-c", CPU_LOAD, "wrk", "-t1",
                                 "-c%d" % conns, "-d2s", url],
                   capture_output=True, check=True)
    return max(before, key=lambda p: ib.tree_cpu(p) - before[p]
               if os.path.exists("/proc/%d" % p) else -1)


def measure(tmp, mode, pid, url_of, wrap, own, results):
    for w in WORKLOADS:
        path, conns = LOADS[w]
        url = url_of(path)
        worker = worker_of(pid, url, conns, wrap)
        data = Path(tmp) / ("perf-%s-%s.data" % (mode, w))
        (reqs, rps, _), _ = during(
            ["perf", "record", "-q", "-F", FREQ, "--call-graph",
             "dwarf,16384", "-o", str(data), "-p", str(worker)],
            wrk_argv(url, conns, wrap))
        r = profile(data, own)
        r.update(mode=mode, workload=w, rps=rps, worker=worker)
        cpu0 = bench.cpu_secs(worker)
        (reqs, rps2, _), err = during(
            ["perf", "stat", "-x", ","] + STAT_EVENTS + ["-p", str(worker)],
            wrk_argv(url, conns, wrap))
        r["us_per_req"] = (bench.cpu_secs(worker) - cpu0) * 1e6 / reqs
        counts = syscall_counts(err)
        r["filtered"] = {k: counts.pop(k) / reqs for k in STAT_FIRST}
        r["syscalls"] = {k: v / reqs for k, v in sorted(
            counts.items(), key=lambda kv: -kv[1])}
        r["rps_stat"] = rps2
        results.append(r)
        print_one(r)


def print_one(r):
    print("\n## %s, (%s): %d samples of the worker (pid %d), wrk %.0f "
          "req/s under perf record" % (r["mode"], r["workload"],
                                       r["samples"], r["worker"], r["rps"]))
    for c in CATS:
        print("  %-16s %5.1f %%" % (c, r["shares"][c]))
    for k, v in r["details"].items():
        print("  of which %-42s %5.1f %%" % (k, v))
    print("  top symbols (perf report --no-children --sort dso,sym):")
    for line in r["top"]:
        print("    " + line)
    print("  libc copies and allocator by caller (share of all samples):")
    for k, v in r["copies"]:
        print("    %5.1f %%  %s" % (v, k))
    if "syscalls" in r:
        sc = r["syscalls"]
        print("  syscalls per request (wrk %.0f req/s under perf stat, the "
              "worker's CPU %.1f us per request): %.2f in all" % (
                  r["rps_stat"], r["us_per_req"], sum(sc.values())))
        for k, v in list(sc.items())[:8]:
            print("    %-16s %.3f" % (k, v))
        for k, v in r["filtered"].items():
            print("    of which %s: %.3f" % (k, v))


def table(results):
    print("\n| mode, workload | " + " | ".join(CATS) + " | samples |")
    print("| --- |" + " ---: |" * (len(CATS) + 1))
    for r in results:
        print("| %s (%s) | %s | %d |" % (
            r["mode"], r["workload"],
            " | ".join("%.1f" % r["shares"][c] for c in CATS), r["samples"]))


# ------------------------------------------------------------ the modes

def tunnel(ctx, tmp, hard, own, results):
    pki = harness.pki()
    root = Path(tmp) / "www"
    up, hosts, _, upstream = bench.start_upstream(ctx, tmp, pki, root,
                                                  hard)
    ctx.vars = {"up": up, "ca": pki / "ca.pem", "hosts": hosts,
                "pin": harness.pin_of(pki / "leaf.pem")}
    p = bench.Proxy(ctx, "pinshim", "pinshim", PINSHIM_INI,
                    lambda c: [str(harness.PINSHIM), "run", "-c", str(c)],
                    hard)
    pid = p.start()
    try:
        measure(tmp, "tunnel", pid,
                lambda path: "http://127.0.0.1:%d%s" % (p.port, path), (),
                own, results)
    finally:
        p.stop()
        upstream.stop()


def intercept(ctx, tmp, hard, own, results):
    net = ib.Net(tmp)
    ctx.addCleanup(net.close)
    net.up()
    pki = harness.pki()
    root = Path(tmp) / "www"
    cadir = Path(tmp) / "ca"
    sh(harness.PINSHIM, "ca", "init", cadir)
    updir = Path(tmp) / "upstream-ns"
    updir.mkdir()
    (updir / "nginx.conf").write_text(
        UPSTREAM.replace("127.0.0.1", ib.SERVER) % {
            "p": updir, "port": 443, "chain": pki / "leaf-chain.pem",
            "key": pki / "leaf.key", "root": root, "nofile": hard})
    upstream = harness.Proc(ctx, ib.in_ns(ib.NS[2], bench.CPU_PROXY) + [
        "nginx", "-p", str(updir), "-c", str(updir / "nginx.conf"), "-e",
        str(updir / "error.log")], "upstream-ns")
    ib.ns_wait(ib.NS[2], ib.SERVER, 443, upstream.p)
    ctx.vars = {"root": pki / "root.pem", "net": ib.NET, "cadir": cadir,
                "pin": harness.pin_of(pki / "leaf.pem")}
    c = ib.Candidate(ctx, "pinshim-t", "pinshim transparent", 8443,
                     lambda conf: [str(harness.PINSHIM), "run", "-c",
                                   str(conf)], ib.PINSHIM_T,
                     prepare=ib.pinshim_state)
    pid = c.start()
    net.redirect(c.port)
    try:
        ib.run_client(["check"], cadir / "ca.pem", None)  # intercepted
        measure(tmp, "intercept", pid,
                lambda path: "https://api.test%s" % path,
                ib.in_ns(ib.NS[0], CPU_LOAD)[:4], own, results)
    finally:
        c.stop()
        upstream.stop()


def main():
    if os.geteuid() != 0:
        print("profile: needs root (perf on another process, namespaces)")
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = tempfile.mkdtemp(prefix="pinshim-profile-")
    os.chmod(tmp, 0o711)
    ctx = Ctx(tmp)
    results = []
    try:
        root = Path(tmp) / "www"
        root.mkdir()
        (root / "4k").write_bytes(os.urandom(4096))
        (root / "1m").write_bytes(os.urandom(1 << 20))
        (root / "small").write_text("ok")     # intercept_bench's check
        own = own_symbols()
        print("pinshim worker profile, %s, %s (%d cores, Linux %s); perf "
              "-F %s --call-graph dwarf, %gs of wrk per row; shares of the "
              "worker's own samples (the machine may be shared: rates are "
              "not comparable, shares are)" % (
                  time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                  ib.cpu_model(), os.cpu_count(), os.uname().release, FREQ,
                  SECS))
        if "tunnel" in MODES:
            tunnel(ctx, tmp, hard, own, results)
        if "intercept" in MODES:
            intercept(ctx, tmp, hard, own, results)
        table(results)
        if os.environ.get("OUT"):
            with open(os.environ["OUT"], "w") as f:
                json.dump(results, f, indent=1)
    finally:
        ctx.close()
        harness.cleanup_pki()
        if os.environ.get("KEEP"):
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
