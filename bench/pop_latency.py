#!/usr/bin/env python3
"""Pop-latency benchmark for omnitraild (issue #10, first benchmark).

Starts omnitraild with a temporary config (K agents, one asterisk_ami connector pointing at a
bench AMI peer), connects every agent's WebSocket, then the peer emits calls at R calls/s for D
seconds, each built from shared/fixtures/ami/direct_call.ami with a fresh Uniqueid/Linkedid,
fresh channel names and a fresh caller number, ringing a random agent's extension.

  t0 = monotonic time just before the DialBegin block that makes the agent ring is written
  t1 = monotonic time the recv() completing the agent's pop.ringing frame returned
  latency = t1 - t0

Baselines measured in the same run: a round trip through the same Python WebSocket client
(tests/integration/wsclient.py) to a bare echo server (bench/echo_server.cpp, Boost.Beast; a
built by bench/run.sh), and a raw SQLite lookup by phone key on the database
file the run produced. Writes JSON to --json (and prints a summary). Standard library only.

--store-file DB (with --customers N): the run starts on a copy of a preloaded store
(bench/preload.py) and every call comes from a distinct preloaded customer's phone, so the pop
finds a customer with history and the SQLite lookup baseline runs on the preloaded data.

--burst-interactions K (isolation): the first half of the run is idle; from the middle on,
bursts of K POST /api/v1/interactions are driven by wrk (bench/wrk/ingest.lua, as fast as it
can) back to back. Pops whose t0 falls inside a burst are reported against those of the idle half."""
import argparse
import heapq
import signal
import json
import os
import random
import selectors
import socket
import sqlite3
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)  # benchlib

import amipeer  # noqa: E402
from amipeer import AmiPeer, capture_events  # noqa: E402
import harness  # noqa: E402
from harness import wait_until  # noqa: E402
from wsclient import WebSocket  # noqa: E402
import benchlib  # noqa: E402
from benchlib import ms, pct, summary_ms  # noqa: E402

ADMIN_TOKEN = "admin-token-for-bench-0123456789"


def daemon_histogram(d):
    """omnitraild's own omnitrail_pop_latency_seconds histogram (trigger handed to ingest -> pop
    frame written to the agent's socket), scraped from /metrics before the daemon stops: it
    separates the daemon's latency from the load generator's (one Python process reading every
    agent socket). Percentiles are bucket upper bounds."""
    try:
        status, _, raw = d.request("GET", "/metrics")
    except OSError as e:
        return {"error": str(e)}
    if status != 200:
        return {"error": "HTTP %d" % status}
    buckets, count, total = [], 0, 0.0
    for line in raw.decode().splitlines():
        if line.startswith("omnitrail_pop_latency_seconds_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), int(float(line.rsplit(" ", 1)[1]))))
        elif line.startswith("omnitrail_pop_latency_seconds_count"):
            count = int(float(line.rsplit(" ", 1)[1]))
        elif line.startswith("omnitrail_pop_latency_seconds_sum"):
            total = float(line.rsplit(" ", 1)[1])
    buckets.sort()

    def upper(p):
        need = p / 100.0 * count
        for le, n in buckets:
            if n >= need:
                return None if le == float("inf") else round(le * 1000.0, 3)
        return None

    return {"count": count, "mean_ms": round(total / count * 1000.0, 3) if count else None,
            "p50_le_ms": upper(50), "p95_le_ms": upper(95), "p99_le_ms": upper(99),
            "buckets": [[None if le == float("inf") else le, n] for le, n in buckets]}


class _LockedConn:
    """Serialises writes to the AMI socket: the session thread answers Ping, the generator emits."""

    def __init__(self, conn):
        self._c = conn
        self._lock = threading.Lock()

    def sendall(self, data):
        with self._lock:
            self._c.sendall(data)

    def timed_sendall(self, before, data, after):
        """Writes `before`, then stamps t0 and writes `data`, then `after`, all under the lock."""
        with self._lock:
            if before:
                self._c.sendall(before)
            t0 = time.monotonic()
            self._c.sendall(data)
            if after:
                self._c.sendall(after)
            return t0

    def __getattr__(self, name):
        return getattr(self._c, name)


class BenchAmiPeer(AmiPeer):
    """amipeer.AmiPeer whose replay step hands the logged-in session to the call generator."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.session = None
        self.ready = threading.Event()

    def _session(self, conn, number):
        # No Nagle: t0 is stamped right before the DialBegin write, which must leave at once
        # (with Nagle it waited for the ACK of the previous segment: tens of ms of delayed-ACK
        # time that was charged to the daemon).
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super()._session(_LockedConn(conn), number)

    def _replay(self, conn, number):  # called after CoreShowChannels: the link is fully up
        self.session = conn
        self.ready.set()


class CallTemplate:
    """direct_call.ami split around the DialBegin that rings extension 6001."""

    CALLER = b"+14155550123"
    UID = b"1795390255."

    def __init__(self):
        events = capture_events("direct_call.ami")
        ring = next(i for i, e in enumerate(events) if b"Event: DialBegin" in e and b"6001" in e)
        self.pre = b"".join(events[:ring])
        self.ring = events[ring]
        # What follows ringing (answer, bridge, hangup) is sent after the ring hold time.
        self.post = b"".join(events[ring + 1:])

    @staticmethod
    def _subst(data, n, ext, caller):
        return (data.replace(CallTemplate.UID, b"%d." % (1900000000 + n))
                .replace(b"inbound-sim-00000000", b"inbound-sim-%08x" % (2 * n))
                .replace(b"agents-00000001", b"agents-%08x" % (2 * n + 1))
                .replace(b"6001", ext)
                .replace(CallTemplate.CALLER, caller))

    def call(self, n, ext, caller):
        return tuple(self._subst(x, n, ext, caller) for x in (self.pre, self.ring, self.post))


def caller_number(n):
    # Fresh, well-formed NANP numbers: +1 415 NXX XXXX with NXX in 200..999.
    return "+1415%03d%04d" % (200 + (n // 10000) % 800, n % 10000)


def config(port, agents, extra_ws=""):
    lines = ["server:", '  listen: ["127.0.0.1:0"]', "  admin_token_files: [secrets/admin.token]",
             "  limits: {shutdown_timeout: 3s, max_connections: %d}" % (len(agents) + 1024), "storage:", "  sqlite_path: state/omnitrail.db",
             "identity:", "  default_region: US", "agents:"]
    for a in agents:
        lines.append('  - {id: %s, name: %s, extensions: ["%s"], queues: [support], token_file: secrets/%s.token}'
                     % (a["id"], a["id"], a["ext"], a["id"]))
    lines += ["connectors:", "  - name: pbx", "    type: asterisk_ami", "    host: 127.0.0.1", "    port: %d" % port,
              "    username: omni", "    secret_file: secrets/ami.secret", "    region: US",
              "    internal_contexts: [agents]", "    ping_interval: 5s", "    action_timeout: 5s",
              "    reconnect_min: 100ms", "    reconnect_max: 500ms", "logging:", "  level: " + os.environ.get("BENCH_LOG_LEVEL", "warning"), ""]
    return "\n".join(lines)


class Receiver(threading.Thread):
    """One selector thread reading every agent's WebSocket; stamps pop.ringing frames."""

    def __init__(self, sockets):
        super().__init__(daemon=True)
        self.sel = selectors.DefaultSelector()
        self.bufs = {}
        self.ws = {}
        for agent, ws in sockets.items():
            ws.sock.settimeout(None)
            self.sel.register(ws.sock, selectors.EVENT_READ, agent)
            self.bufs[agent] = ws.buffer
            self.ws[agent] = ws
        self.ringing = {}  # caller key -> (t1, agent, frame bytes)
        self.frags = {}    # agent -> payloads of a fragmented message so far
        self.other = {}    # message type -> count
        self.stop = False
        self.errors = []

    def run(self):
        while not self.stop:
            for key, _ in self.sel.select(0.2):
                agent = key.data
                try:
                    chunk = key.fileobj.recv(262144)
                except OSError as e:
                    self.errors.append("%s: %s" % (agent, e))
                    self.sel.unregister(key.fileobj)
                    continue
                t1 = time.monotonic()
                if not chunk:
                    self.errors.append("%s: closed" % agent)
                    self.sel.unregister(key.fileobj)
                    continue
                self.bufs[agent] += chunk
                self._frames(agent, t1)

    def _frames(self, agent, t1):
        buf = self.bufs[agent]
        while True:
            frame = benchlib.next_frame(buf)
            if frame is None:
                break
            b1, payload, buf = frame
            opcode, fin = b1 & 0x0F, b1 & 0x80
            if opcode == 0x9:
                self.ws[agent].send_frame(0xA, payload)
                continue
            # Fragmented messages (Beast auto-fragments writes larger than its write buffer, e.g.
            # a pop for a customer with history): collect until FIN; t1 is the final fragment's.
            if opcode == 0x1 and not fin:
                self.frags[agent] = [payload]
                continue
            if opcode == 0x0:
                if agent not in self.frags:
                    continue
                self.frags[agent].append(payload)
                if not fin:
                    continue
                payload, opcode = b"".join(self.frags.pop(agent)), 0x1
            if opcode == 0x1:
                try:
                    msg = json.loads(payload)
                except ValueError:
                    continue
                kind = msg.get("type")
                self.other[kind] = self.other.get(kind, 0) + 1
                if kind == "pop.ringing":
                    for ident in msg.get("pop", {}).get("customer_view", {}).get("identities", []):
                        if ident.get("kind") == "phone" and ident.get("key") not in self.ringing:
                            self.ringing[ident.get("key")] = (t1, agent, len(payload))
        self.bufs[agent] = buf


def start_echo_server(path, args=()):
    if path and os.path.exists(path):
        proc = subprocess.Popen([path] + list(args), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = proc.stdout.readline().decode()
        return proc, int(line.split()[1]), "boost.beast (bench/echo_server.cpp)"
    raise RuntimeError("echo server %r not built (bench/run.sh builds it from bench/echo_server.cpp)" % path)


class CppReceiver:
    """bench/pop_receiver (C++, one Asio thread) holding every agent's WebSocket; same interface
    as Receiver for the generator: .ringing, .other, .errors, .stop, start(), join()."""

    def __init__(self, binary, host, port, agents):
        self.proc = subprocess.Popen([binary, host, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        for a in agents:
            self.proc.stdin.write("%s %s\n" % (a["id"], a["token"]))
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "READY" or int(line[1]) != len(agents):
            raise RuntimeError("pop_receiver: %r; %s" % (line, self.proc.stderr.read()[:2000]))
        self.ringing, self.other, self.errors, self.stop = {}, {}, [], False

    def start(self):
        pass

    def join(self, timeout=None):
        """Stops the receiver and collects what it stamped."""
        self.proc.stdin.write("STOP\n")
        self.proc.stdin.flush()
        for line in self.proc.stdout:
            f = line.split()
            if not f or f[0] == "END":
                break
            if f[0] == "R" and f[3] not in self.ringing:
                self.ringing[f[3]] = (int(f[1]) / 1e9, f[2], int(f[4]))
            elif f[0] == "T":
                self.other[f[1]] = int(f[2])
            elif f[0] == "E":
                self.errors.append(" ".join(f[1:]))
        self.proc.wait(10)

    def live_count(self):
        return None  # known only at the end


def echo_baseline_cpp(client, echo_bin, payload_size, rounds):
    """The echo round trip through bench/pop_receiver --echo: the same C++ client as the pops."""
    proc, port, kind = start_echo_server(echo_bin, ["--reply-bytes", str(payload_size)])
    try:
        out = subprocess.run([client, "--echo", "127.0.0.1", str(port), str(rounds + 50)], capture_output=True,
                             text=True, timeout=120).stdout.split("\n")
        samples = [int(l.split()[1]) / 1e9 for l in out if l.startswith("RTT ")][50:]
        if len(samples) != rounds:
            raise RuntimeError("pop_receiver --echo gave %d samples, want %d" % (len(samples), rounds))
        return kind, payload_size, samples
    finally:
        proc.kill()
        proc.wait(5)


def echo_baseline(echo_bin, payload_size, rounds):
    """Round trip: a 16-byte request (client frames are masked byte by byte in Python, so a big
    request would time the client) answered by one payload_size-byte frame from the Beast server
    (echo_server --reply-bytes): the pop's direction and size, through the same client code."""
    proc, port, kind = start_echo_server(echo_bin, ["--reply-bytes", str(payload_size)])
    try:
        ws = WebSocket("127.0.0.1", port, "/")
        if ws.status != 101:
            raise RuntimeError("echo handshake failed: %s" % ws.handshake)
        ws.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = b'{"type":"ping"}'
        samples = []
        for i in range(rounds + 50):
            t0 = time.monotonic()
            ws.send_frame(0x1, body)
            op, data = ws.recv_frame()
            t1 = time.monotonic()
            if op != 0x1 or len(data) != payload_size:
                raise RuntimeError("bad echo reply (%d bytes, want %d)" % (len(data), payload_size))
            if i >= 50:  # warm-up
                samples.append(t1 - t0)
        ws.close()
        return kind, payload_size, samples
    finally:
        proc.kill()
        proc.wait(5)


def sqlite_baseline(db_path, keys, rounds):
    conn = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, cached_statements=16)
    sql = "SELECT customer_id FROM identities WHERE kind='phone' AND key=?"
    samples, found = [], 0
    for i in range(rounds + 50):
        key = keys[i % len(keys)]
        t0 = time.monotonic()
        row = conn.execute(sql, (key,)).fetchone()
        t1 = time.monotonic()
        if i >= 50:
            samples.append(t1 - t0)
            found += row is not None
    rows = conn.execute("SELECT count(*) FROM identities").fetchone()[0]
    plan = " | ".join(str(r[-1]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql, ("x",)))
    conn.close()
    return samples, found, rows, plan


class Burster(threading.Thread):
    """Back-to-back bursts of `per_burst` REST interactions driven by wrk, from `start_at` until
    `stop_at` (monotonic) or `max_bursts`. A burst ends when SQLite holds all its rows."""

    def __init__(self, url, db_path, per_burst, start_at, stop_at, customers, max_bursts=50, timeout=30.0):
        super().__init__(daemon=True)
        self.url, self.db_path, self.per_burst = url, db_path, per_burst
        self.start_at, self.stop_at, self.customers = start_at, stop_at, customers
        self.max_bursts, self.timeout = max_bursts, timeout
        self.windows = []  # (t_start, t_end, rows stored, seconds)
        self.errors = []

    def _count(self, prefix):
        conn = sqlite3.connect("file:%s?mode=ro" % self.db_path, uri=True, timeout=5)
        try:
            return conn.execute("SELECT count(*) FROM interactions WHERE source = 'api' AND external_id >= ? "
                                "AND external_id < ?", (prefix + "-", prefix + ".")).fetchone()[0]
        finally:
            conn.close()

    def run(self):
        delay = self.start_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        threads, conns = 2, 16
        for b in range(self.max_bursts):
            if time.monotonic() >= self.stop_at:
                break
            prefix = "burst%d-%d" % (os.getpid(), b)
            env = dict(os.environ, BENCH_CUSTOMERS=str(max(1, self.customers)), BENCH_TOKEN=ADMIN_TOKEN,
                       BENCH_PREFIX=prefix, BENCH_QUOTA=str(-(-self.per_burst // threads)))
            cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % int(self.timeout + 5), "--timeout", "10s",
                   "-s", os.path.join(HERE, "wrk", "ingest.lua"), self.url]
            t_start = time.monotonic()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            n = 0
            try:
                while time.monotonic() - t_start < self.timeout:
                    n = self._count(prefix)
                    if n >= self.per_burst:
                        break
                    time.sleep(0.02)
            finally:
                t_end = time.monotonic()
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            self.windows.append((t_start, t_end, n, t_end - t_start))
            if n < self.per_burst:
                self.errors.append("burst %d: only %d of %d rows within %gs" % (b, n, self.per_burst, self.timeout))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--rate", type=float, default=20.0, help="calls per second")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of call generation")
    ap.add_argument("--ring-hold", type=float, default=1.0, help="seconds between DialBegin and the rest of the call")
    ap.add_argument("--drain", type=float, default=5.0, help="seconds to wait for late pops after the last call")
    ap.add_argument("--echo-rounds", type=int, default=2000)
    ap.add_argument("--lookup-rounds", type=int, default=20000)
    ap.add_argument("--omnitraild", default=os.environ.get("OMNITRAILD", ""))
    ap.add_argument("--echo-server", default=os.path.join(ROOT, "build-bench", "echo_server"))
    ap.add_argument("--receiver", default=os.path.join(ROOT, "build-bench", "pop_receiver"),
                    help="C++ agent-side client (bench/pop_receiver.cpp); '' or missing: the Python receiver")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--store-file", default="", help="preloaded store to copy in (bench/preload.py)")
    ap.add_argument("--customers", type=int, default=0, help="customers in --store-file (callers are drawn from them)")
    ap.add_argument("--burst-interactions", type=int, default=0,
                    help="isolation: bursts of this many REST interactions in the second half of the run")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    if args.receiver and not os.path.exists(args.receiver):
        print("pop_latency: %s not built; using the Python receiver" % args.receiver, file=sys.stderr)
        args.receiver = ""
    if not args.omnitraild:
        sys.exit("--omnitraild or OMNITRAILD is required")
    args.omnitraild = os.path.abspath(args.omnitraild)
    harness.OMNITRAILD = args.omnitraild
    random.seed(args.seed)
    try:  # 1,000 agents: their sockets here and in the daemon
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 2 * args.agents + 1024
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(want, soft), max(hard, want)), max(hard, want)))
    except (ValueError, OSError):
        pass

    agents = [{"id": "a%04d" % k, "ext": "%d" % (10000 + k), "token": "bench-token-%04d-0123456789abcdef" % k}
              for k in range(args.agents)]
    files = {"secrets/%s.token" % a["id"]: a["token"] + "\n" for a in agents}
    files["secrets/admin.token"] = ADMIN_TOKEN + "\n"
    files["secrets/ami.secret"] = "s3cret-ami\n"

    tmpl = CallTemplate()
    peer = BenchAmiPeer()
    result = {"benchmark": "isolation" if args.burst_interactions > 0 else "pop_latency",
              "params": {"receiver": "C++ (bench/pop_receiver.cpp)" if args.receiver else "Python (tests/integration/wsclient.py)", "agents": args.agents, "rate_cps": args.rate, "duration_s": args.duration,
                         "ring_hold_s": args.ring_hold, "seed": args.seed, "omnitraild": args.omnitraild,
                         "capture": "direct_call.ami", "store_file": args.store_file or None,
                         "customers": args.customers if args.store_file else 0,
                         "burst_interactions": args.burst_interactions}}
    total = int(args.rate * args.duration)
    preloaded_callers = None
    if args.store_file:
        if args.customers < total:
            sys.exit("--customers (%d) must be >= calls (%d): each call is a distinct preloaded customer"
                     % (args.customers, total))
        preloaded_callers = [benchlib.bench_phone(i) for i in random.sample(range(args.customers), total)]
    d = harness.Daemon(config(peer.port, agents), files=files)
    if args.store_file:
        benchlib.copy_store(args.store_file, os.path.join(d.path, "state", "omnitrail.db"))
    try:
        t_start = time.monotonic()
        d.start(timeout=60)
        result["startup_s"] = round(time.monotonic() - t_start, 3)
        if not peer.ready.wait(30):
            raise RuntimeError("the connector never completed its AMI session; log:\n" + d.log())
        sockets = {}
        if args.receiver:
            rx = CppReceiver(args.receiver, d.host, d.port, agents)
        else:
            for a in agents:
                ws = WebSocket(d.host, d.port, "/api/v1/agents/ws", {"Authorization": "Bearer " + a["token"]})
                if ws.status != 101:
                    raise RuntimeError("agent %s WebSocket refused: %s" % (a["id"], ws.handshake))
                hello = ws.recv(10)
                if hello.get("type") != "hello":
                    raise RuntimeError("expected hello, got %r" % hello)
                sockets[a["id"]] = ws
            rx = Receiver(sockets)
        rx.start()

        # Generate calls: DialBegin (t0) at n/rate; the rest of each call ring_hold later.
        conn = peer.session
        sent = {}  # caller key -> (t0, agent)
        heap = [(n / args.rate, 0, n) for n in range(total)]
        heapq.heapify(heap)
        posts = {}
        late = []
        base = time.monotonic() + 0.1
        burster = None
        if args.burst_interactions > 0:
            burster = Burster("http://%s:%d" % (d.host, d.port), os.path.join(d.path, "state", "omnitrail.db"),
                              args.burst_interactions, base + args.duration / 2, base + args.duration,
                              args.customers if args.store_file else 0)
            burster.start()
        while heap:
            at, phase, n = heapq.heappop(heap)
            delay = base + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif phase == 0:
                late.append(-delay)
            if phase == 0:
                a = random.choice(agents)
                caller = preloaded_callers[n] if preloaded_callers else caller_number(n)
                pre, ring, post = tmpl.call(n, a["ext"].encode(), caller.encode())
                t0 = conn.timed_sendall(pre, ring, b"")
                sent[caller] = (t0, a["id"])
                posts[n] = post
                heapq.heappush(heap, (at + args.ring_hold, 1, n))
            else:
                conn.sendall(posts.pop(n))
        gen_end = time.monotonic()
        if burster:
            burster.join(burster.timeout + 20)
        wait_until(lambda: len(rx.ringing) >= len(sent) or time.monotonic() - gen_end > args.drain,
                   args.drain + 5, "pops")
        rx.stop = True
        rx.join(2)

        lat, wrong_agent, sizes = [], 0, []
        idle_lat, burst_lat, idle_lost, burst_lost = [], [], 0, 0
        half = base + args.duration / 2
        windows = burster.windows if burster else []
        for caller, (t0, agent) in sent.items():
            got = rx.ringing.get(caller)
            in_burst = any(w[0] <= t0 <= w[1] for w in windows)
            if got is None:
                idle_lost += t0 < half
                burst_lost += in_burst
                continue
            lat.append(got[0] - t0)
            if t0 < half:
                idle_lat.append(got[0] - t0)
            elif in_burst:
                burst_lat.append(got[0] - t0)
            sizes.append(got[2])
            wrong_agent += got[1] != agent
        pop = summary_ms(lat)
        pop.update({"calls": len(sent), "lost": len(sent) - len(lat), "wrong_agent": wrong_agent,
                    "generator_late_max_ms": ms(max(late) if late else 0.0),
                    "generator_late_count": len(late), "frame_bytes_median": pct(sizes, 50),
                    "messages_by_type": rx.other, "ws_errors": rx.errors[:5]})
        result["pop"] = pop
        result["daemon_histogram"] = daemon_histogram(d)
        if pop["lost"]:
            result["daemon_log_tail"] = d.log()[-3000:]
        if burster:
            iso = {"idle": summary_ms(idle_lat), "burst": summary_ms(burst_lat)}
            iso["idle"]["lost"] = idle_lost
            iso["burst"]["lost"] = burst_lost
            iso["bursts"] = len(windows)
            iso["burst_interactions"] = args.burst_interactions
            iso["burst_seconds"] = [round(w[3], 3) for w in windows]
            iso["burst_interactions_per_s"] = [round(w[2] / w[3], 1) if w[3] > 0 else None for w in windows]
            iso["burst_errors"] = burster.errors[:5]
            ip, bp = iso["idle"]["p99_ms"], iso["burst"]["p99_ms"]
            iso["ratio_burst_p99_over_idle_p99"] = round(bp / ip, 2) if ip and bp is not None else None
            result["isolation"] = iso
        for ws in sockets.values():
            ws.close()
        db_path = os.path.join(d.path, "state", "omnitrail.db")
        d.kill()

        # Baseline 2: raw SQLite lookup on the database the run produced.
        keys = list(sent.keys())
        lk, found, rows, plan = sqlite_baseline(db_path, keys, args.lookup_rounds)
        result["lookup"] = summary_ms(lk)
        result["lookup"].update({"found": found, "identities_rows": rows, "db_bytes": os.path.getsize(db_path),
                                 "query": "SELECT customer_id FROM identities WHERE kind='phone' AND key=?",
                                 "plan": plan})
    finally:
        d.__exit__(None, None, None)
        peer.close()

    # Baseline 1: WebSocket round trip through the same Python client to a bare echo server.
    if args.receiver:
        kind, size, ec = echo_baseline_cpp(args.receiver, args.echo_server, result["pop"]["frame_bytes_median"] or 1024,
                                           args.echo_rounds)
    else:
        kind, size, ec = echo_baseline(args.echo_server, result["pop"]["frame_bytes_median"] or 1024, args.echo_rounds)
    result["echo"] = summary_ms(ec)
    result["echo"].update({"server": kind, "payload_bytes": size})

    base_p99 = result["echo"]["p99_ms"] + result["lookup"]["p99_ms"]
    result["baseline_p99_sum_ms"] = round(base_p99, 3)
    result["ratio_pop_p99_over_baseline_p99"] = (round(result["pop"]["p99_ms"] / base_p99, 2)
                                                if result["pop"]["p99_ms"] is not None and base_p99 > 0 else None)
    out = json.dumps(result, indent=2)
    if args.json:
        with open(args.json, "w") as f:
            f.write(out + "\n")
    print(out)


if __name__ == "__main__":
    main()
