#!/usr/bin/env python3
"""REST lookup benchmark (issue #10): GET /api/v1/customers/lookup?value=<phone> req/s on the
preloaded store, driven by wrk (keep-alive, --connections connections, a random preloaded
customer's phone per request, bench/wrk/lookup.lua), against a baseline measured with the very
same wrk command: a bare keep-alive Boost.Beast hello server (bench/hello_server.cpp) with the
same number of I/O threads. Ratio = omnitraild req/s / hello req/s. Standard library only."""
import argparse
import json
import os

import benchlib


def run(url, args, env):
    w = benchlib.wrk(url, "lookup.lua", args.threads, args.connections, args.duration, env)
    secs = w["duration_us"] / 1e6
    return {"requests": w["requests"], "ok_2xx": w["ok2xx"], "non_2xx": w["non2xx"], "seconds": round(secs, 3),
            "req_per_s": round(w["ok2xx"] / secs, 1) if secs else None,
            "latency_p50_ms": w["latency_p50_us"] / 1000.0, "latency_p99_ms": w["latency_p99_us"] / 1000.0,
            "latency_max_ms": w["latency_max_us"] / 1000.0,
            "errors": {k: w[k] for k in w if k.startswith("errors_")}, "wrk": w["cmd"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--omnitraild", default=os.environ.get("OMNITRAILD", ""))
    ap.add_argument("--store-file", required=True)
    ap.add_argument("--customers", type=int, required=True)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--server-threads", type=int, default=1, help="omnitraild server.threads and hello threads")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--hello-server", default=os.path.join(benchlib.BUILD, "hello_server"))
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    omni = os.path.abspath(args.omnitraild)
    env = {"BENCH_CUSTOMERS": str(args.customers), "BENCH_TOKEN": benchlib.ADMIN_TOKEN}
    result = {"benchmark": "lookup",
              "params": {"duration_s": args.duration, "wrk_threads": args.threads, "connections": args.connections,
                         "server_threads": args.server_threads, "customers": args.customers,
                         "store_file": args.store_file, "omnitraild": omni}}
    d = benchlib.daemon_with_store(omni, benchlib.config(threads=args.server_threads), benchlib.agent_files([]),
                                   args.store_file)
    try:
        d.start(timeout=120)
        url = "http://%s:%d" % (d.host, d.port)
        if args.warmup > 0:  # warm the page cache / statement caches, not measured
            benchlib.wrk(url, "lookup.lua", args.threads, args.connections, args.warmup, env)
        result["omnitraild"] = run(url, args, env)
        result["omnitraild"]["daemon_rss_kib"] = benchlib.rss_kib(d.proc.pid)
    finally:
        d.__exit__(None, None, None)
    proc, port = benchlib.start_server(args.hello_server, ["--threads", str(args.server_threads)])
    try:
        url = "http://127.0.0.1:%d" % port
        if args.warmup > 0:
            benchlib.wrk(url, "lookup.lua", args.threads, args.connections, min(args.warmup, 1), env)
        result["hello"] = run(url, args, env)
        result["hello"]["server"] = "boost.beast keep-alive hello (bench/hello_server.cpp)"
    finally:
        benchlib.kill(proc)
    h = result["hello"]["req_per_s"]
    result["ratio_omnitraild_over_hello"] = round(result["omnitraild"]["req_per_s"] / h, 3) if h else None
    out = json.dumps(result, indent=2)
    if args.json:
        with open(args.json, "w") as f:
            f.write(out + "\n")
    print(out)


if __name__ == "__main__":
    main()
