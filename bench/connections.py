#!/usr/bin/env python3
"""Memory per idle connection (issue #10): omnitraild's VmRSS (/proc/PID/status) before and after
opening N authenticated agent WebSockets (/api/v1/agents/ws; --agents configured agents, the
connections spread round-robin over them like consoles in several tabs; each hello read) and letting them idle for --idle s (pings answered),
at each level of --levels (cumulative: 1k, then 4k more, ...). Baseline, same run: the bare
Boost.Beast WebSocket echo server (bench/echo_server.cpp) with the same N connections.
Per connection = (RSS at N - RSS before any connection) / N; also the increment between levels
(the first connections can reuse heap the daemon freed after start-up, which flatters level 1). RLIMIT_NOFILE is raised for this
process and the servers it starts; server.limits.max_connections is set above the top level.
Idle chat visitors are not measured: there is no webchat connector yet. Standard library only."""
import argparse
import json
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


def measure(pid, open_one, levels, idle):
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
                         "store_file": args.store_file or None},
              "chat_visitor": "not measured: no webchat connector"}
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
                return None
            hello = ws.recv(10)
            return ws if hello.get("type") == "hello" else None

        result["omnitraild"] = measure(d.proc.pid, open_agent, levels, args.idle)
    finally:
        d.__exit__(None, None, None)
    proc, port = benchlib.start_server(args.echo_server)
    try:
        def open_echo(i):
            ws = WebSocket("127.0.0.1", port, "/")
            return ws if ws.status == 101 else None

        result["echo"] = measure(proc.pid, open_echo, levels, args.idle)
        result["echo"]["server"] = "boost.beast websocket echo (bench/echo_server.cpp)"
    finally:
        benchlib.kill(proc)
    o = {r["connections"]: r for r in result["omnitraild"]["levels"]}
    e = {r["connections"]: r for r in result["echo"]["levels"]}
    result["per_level"] = []
    prev = (0, result["omnitraild"]["rss_before_kib"], result["echo"]["rss_before_kib"])
    for n in levels:
        inc_o = (o[n]["rss_kib"] - prev[1]) / (n - prev[0])
        inc_e = (e[n]["rss_kib"] - prev[2]) / (n - prev[0])
        result["per_level"].append({
            "connections": n, "omnitraild_kib_per_conn": o[n]["kib_per_connection"],
            "echo_kib_per_conn": e[n]["kib_per_connection"],
            "ratio": round(o[n]["kib_per_connection"] / e[n]["kib_per_connection"], 2)
            if e[n]["kib_per_connection"] > 0 else None,
            "omnitraild_incremental_kib_per_conn": round(inc_o, 2), "echo_incremental_kib_per_conn": round(inc_e, 2)})
        prev = (n, o[n]["rss_kib"], e[n]["rss_kib"])
    out = json.dumps(result, indent=2)
    if args.json:
        with open(args.json, "w") as f:
            f.write(out + "\n")
    print(out)


if __name__ == "__main__":
    main()
