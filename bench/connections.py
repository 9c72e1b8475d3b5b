#!/usr/bin/env python3
"""Memory per idle connection (issue #10): omnitraild's VmRSS (/proc/PID/status) before and after
opening N authenticated agent WebSockets (/api/v1/agents/ws; --agents configured agents, the
connections spread round-robin over them like consoles in several tabs; each hello read) and letting them idle for --idle s (pings answered),
at each level of --levels (cumulative: 1k, then 4k more, ...). Baseline, same run: the bare
Boost.Beast WebSocket echo server (bench/echo_server.cpp) with the same N connections.
Per connection = (RSS at N - RSS before any connection) / N; also the increment between levels
(the first connections can reuse heap the daemon freed after start-up, which flatters level 1). RLIMIT_NOFILE is raised for this
process and the servers it starts; server.limits.max_connections is set above the top level.

Idle chat visitors, same method, on a fresh omnitraild (same agents, plus a `webchat` connector
`bench`): N visitor WebSockets on /webchat/bench/ws with an allowed Origin, each sends `hello` (no
token, no identity) and reads its `welcome`: the connector holds a greeted visitor session (visitor
id, signed token, hello timer cancelled) but no chat (a chat starts with the first message, and
stores chat.started / chat.message rows) - the cheapest idle visitor with a session, what a page
with the widget loaded costs. The connector's own gauges (omnitrail_webchat_visitors / _chats) and
refusal counters are read from /metrics at each level. The per-address limits are raised for the
bench (max_connections_per_address is capped at 10,000 by the config validation: above that the
visitors are spread over 127.0.0.x source addresses). Standard library only."""
import argparse
import base64
import json
import math
import mmap
import os
import selectors
import socket
import sys
import time

import benchlib
from wsclient import WebSocket


class Idler:
    """Keeps a set of WebSockets alive: reads whatever arrives, answers pings."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.socks = []
        self.closed = 0

    def add(self, ws):
        ws.sock.setblocking(False)
        self.sel.register(ws.sock, selectors.EVENT_READ, ws)
        self.socks.append(ws)

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            for key, _ in self.sel.select(min(left, 0.5)):
                ws = key.data
                try:
                    chunk = ws.sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    self.sel.unregister(ws.sock)
                    self.closed += 1
                    continue
                buf = ws.buffer + chunk
                while True:
                    frame = benchlib.next_frame(buf)
                    if frame is None:
                        break
                    b1, payload, buf = frame
                    opcode = b1 & 0x0F
                    if opcode == 0x9:
                        ws.sock.setblocking(True)
                        ws.send_frame(0xA, payload)
                        ws.sock.setblocking(False)
                ws.buffer = buf

    def close(self):
        for ws in self.socks:
            try:
                ws.sock.close()
            except OSError:
                pass
        self.sel.close()


class BoundWebSocket(WebSocket):
    """wsclient.WebSocket whose socket is bound to a loopback source address (127.0.0.x) first:
    the webchat connector limits connections per address. Same handshake as wsclient's."""

    def __init__(self, source, host, port, path, headers=None, timeout=10):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.bind((source, 0))
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port), "Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        lines += ["%s: %s" % kv for kv in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("connection closed during the handshake")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        self.status = int(head.split(b" ")[1])
        self.handshake = head.decode("latin-1")
        self.closed = None


WEBCHAT = "bench"
ORIGIN = "http://shop.bench.test"
TOKEN_SECRET = "webchat-bench-token-secret-0123456789abcdef"
MAX_PER_ADDRESS = 10000  # the validation's upper bound for rate_limits.max_connections_per_address


def webchat_block(top, sources):
    per_address = min(MAX_PER_ADDRESS, int(math.ceil(top / float(sources))))
    return "\n".join([
        "connectors:",
        "  - name: %s" % WEBCHAT,
        "    type: webchat",
        "    queue: support",
        '    allowed_origins: ["%s"]' % ORIGIN,
        "    token_secret_file: secrets/webchat-token.key",
        "    max_visitors: %d" % (top + 1024),
        "    rate_limits: {max_connections_per_address: %d, connections_per_minute: 100000, connection_burst: 10000,"
        % per_address,
        "                  messages_per_minute: 100000, message_burst: 10000}",
    ]), per_address


def webchat_metrics(d):
    """The connector's gauges and refusal counters from /metrics."""
    status, _, body = d.request("GET", "/metrics")
    out = {"visitors": None, "chats": None, "refused": {}}
    if status != 200:
        return out
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("#") or 'connector="%s"' % WEBCHAT not in line:
            continue
        name, value = line.rsplit(" ", 1)
        if name.startswith("omnitrail_webchat_visitors{"):
            out["visitors"] = int(float(value))
        elif name.startswith("omnitrail_webchat_chats{"):
            out["chats"] = int(float(value))
        elif name.startswith("omnitrail_webchat_refused_total{"):
            reason = name.split('reason="', 1)[1].split('"', 1)[0] if 'reason="' in name else "?"
            out["refused"][reason] = int(float(value))
    return out


def per_level(levels, o_rows, o_before, e_rows, e_before):
    """KiB per connection of omnitraild vs the echo baseline at each level, and the increments."""
    o = {r["connections"]: r for r in o_rows}
    e = {r["connections"]: r for r in e_rows}
    rows = []
    prev = (0, o_before, e_before)
    for n in levels:
        inc_o = (o[n]["rss_kib"] - prev[1]) / (n - prev[0])
        inc_e = (e[n]["rss_kib"] - prev[2]) / (n - prev[0])
        rows.append({
            "connections": n, "omnitraild_kib_per_conn": o[n]["kib_per_connection"],
            "echo_kib_per_conn": e[n]["kib_per_connection"],
            "ratio": round(o[n]["kib_per_connection"] / e[n]["kib_per_connection"], 2)
            if e[n]["kib_per_connection"] > 0 else None,
            "omnitraild_incremental_kib_per_conn": round(inc_o, 2), "echo_incremental_kib_per_conn": round(inc_e, 2)})
        prev = (n, o[n]["rss_kib"], e[n]["rss_kib"])
    return rows


def measure(pid, open_one, levels, idle, probe=None):
    idler = Idler()
    time.sleep(0.5)
    before = benchlib.rss_kib(pid)
    rows, failures = [], 0
    t0 = time.monotonic()
    try:
        for level in levels:
            while len(idler.socks) < level:
                ws = open_one(len(idler.socks))
                if ws is None:
                    failures += 1
                    if failures > 10:
                        raise RuntimeError("more than 10 connections refused at %d" % len(idler.socks))
                    continue
                idler.add(ws)
            opened = time.monotonic()
            idler.pump(idle)
            rss = benchlib.rss_kib(pid)
            rows.append({"connections": level, "rss_kib": rss, "delta_kib": rss - before,
                         "kib_per_connection": round((rss - before) / level, 2),
                         "open_s": round(opened - t0, 2), "closed_by_server": idler.closed})
            if probe:  # after the RSS reading
                rows[-1]["probe"] = probe()
    finally:
        idler.close()
    return {"rss_before_kib": before, "levels": rows, "failures": failures}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--omnitraild", default=os.environ.get("OMNITRAILD", ""))
    ap.add_argument("--levels", default="1000,5000,10000")
    ap.add_argument("--agents", type=int, default=1000, help="configured agents (0: one per connection)")
    ap.add_argument("--idle", type=float, default=5.0, help="seconds idle before each RSS reading")
    ap.add_argument("--store-file", default="", help="optional preloaded store")
    ap.add_argument("--echo-server", default=os.path.join(benchlib.BUILD, "echo_server"))
    ap.add_argument("--no-visitors", action="store_true", help="skip the idle chat visitor measurement")
    ap.add_argument("--visitor-sources", type=int, default=0,
                    help="loopback source addresses 127.0.0.1..x for the visitors (0: as few as the per-address "
                         "limit allows, i.e. ceil(top / 10000))")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    omni = os.path.abspath(args.omnitraild)
    levels = sorted(int(x) for x in args.levels.split(","))
    top = levels[-1]
    nofile = benchlib.raise_nofile(top + 4096)  # each process (this one, the server) holds ~top sockets
    agents = benchlib.make_agents(args.agents if args.agents > 0 else top)
    result = {"benchmark": "connections",
              "params": {"levels": levels, "idle_s": args.idle, "agents_configured": len(agents),
                         "max_connections": top + 1024, "rlimit_nofile": nofile, "omnitraild": omni,
                         "store_file": args.store_file or None}}
    if nofile < top + 512:
        raise RuntimeError("RLIMIT_NOFILE is %d; need about %d" % (nofile, top + 512))
    d = benchlib.daemon_with_store(omni, benchlib.config(agents=agents, max_connections=top + 1024),
                                   benchlib.agent_files(agents), args.store_file or None)
    try:
        d.start(timeout=120)

        def open_agent(i):
            a = agents[i % len(agents)]
            ws = WebSocket(d.host, d.port, "/api/v1/agents/ws", {"Authorization": "Bearer " + a["token"]})
            if ws.status != 101:
                ws.sock.close()
                return None
            hello = ws.recv(10)
            return ws if hello.get("type") == "hello" else None

        result["omnitraild"] = measure(d.proc.pid, open_agent, levels, args.idle)
    finally:
        d.__exit__(None, None, None)

    if args.no_visitors:
        result["visitors"] = {"error": "not measured (--no-visitors)"}
    elif not has_webchat(omni):
        result["visitors"] = {"error": "not measured: %s was built without the webchat connector" % omni}
    else:
        result["visitors"] = visitors(omni, agents, levels, top, args)

    proc, port = benchlib.start_server(args.echo_server)
    try:
        def open_echo(i):
            ws = WebSocket("127.0.0.1", port, "/")
            return ws if ws.status == 101 else None

        result["echo"] = measure(proc.pid, open_echo, levels, args.idle)
        result["echo"]["server"] = "boost.beast websocket echo (bench/echo_server.cpp)"
    finally:
        benchlib.kill(proc)
    e_rows, e_before = result["echo"]["levels"], result["echo"]["rss_before_kib"]
    result["per_level"] = per_level(levels, result["omnitraild"]["levels"], result["omnitraild"]["rss_before_kib"],
                                    e_rows, e_before)
    v = result["visitors"]
    if "omnitraild" in v:
        v["per_level"] = per_level(levels, v["omnitraild"]["levels"], v["omnitraild"]["rss_before_kib"], e_rows, e_before)
    out = json.dumps(result, indent=2)
    if args.json:
        with open(args.json, "w") as f:
            f.write(out + "\n")
    print(out)


def has_webchat(omni):
    with open(omni, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        return m.find(b"omnitrail_webchat_visitors") >= 0


def visitors(omni, agents, levels, top, args):
    """N idle chat visitors (hello -> welcome, no chat) on a fresh omnitraild with a webchat connector."""
    sources = args.visitor_sources or int(math.ceil(top / float(MAX_PER_ADDRESS)))
    block, per_address = webchat_block(top, sources)
    if per_address * sources < top:
        raise RuntimeError("%d source addresses x %d per address < %d visitors" % (sources, per_address, top))
    files = benchlib.agent_files(agents)
    files["secrets/webchat-token.key"] = TOKEN_SECRET + "\n"
    d = benchlib.daemon_with_store(omni, benchlib.config(agents=agents, connectors=block, max_connections=top + 1024),
                                   files, args.store_file or None)
    out = {"state": "welcome", "connector": WEBCHAT, "path": "/webchat/%s/ws" % WEBCHAT, "origin": ORIGIN,
           "sources": ["127.0.0.%d" % (k + 1) for k in range(sources)], "max_connections_per_address": per_address,
           "max_connections_per_address_cap": MAX_PER_ADDRESS, "max_visitors": top + 1024, "welcome_bytes": None,
           "config": block}
    sizes = []
    try:
        d.start(timeout=120)

        def open_visitor(i):
            source = "127.0.0.%d" % (i % sources + 1)
            headers = {"Origin": ORIGIN}
            path = "/webchat/%s/ws" % WEBCHAT
            ws = WebSocket(d.host, d.port, path, headers) if sources == 1 else \
                BoundWebSocket(source, d.host, d.port, path, headers)
            if ws.status != 101:
                ws.sock.close()
                return None
            ws.send({"type": "hello", "page": "http://shop.bench.test/product/%d" % i})
            welcome = ws.recv(10)
            if welcome.get("type") != "welcome" or welcome.get("chat") is not None or not welcome.get("visitor_id"):
                ws.sock.close()
                return None
            if len(sizes) < 100:
                sizes.append(len(json.dumps(welcome, separators=(",", ":"))))
            return ws

        out["omnitraild"] = measure(d.proc.pid, open_visitor, levels, args.idle, probe=lambda: webchat_metrics(d))
        out["welcome_bytes"] = sorted(sizes)[len(sizes) // 2] if sizes else None
    finally:
        d.__exit__(None, None, None)
    return out


if __name__ == "__main__":
    main()
