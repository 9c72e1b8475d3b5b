#!/usr/bin/env python3
"""Ingest throughput benchmark (issue #10): interactions/s into a preloaded omnitraild store.

1. REST: wrk POSTs /api/v1/interactions (unique external_id per request, a random preloaded
   caller's phone as identifier) over keep-alive connections for --duration s. Only 2xx answers
   count (the daemon answers after the group commit). Afterwards SQLite is checked: every
   acknowledged row is in `interactions` (count >= 2xx), no duplicate answers, no duplicate rows.
2. Connector, phone_webhook: wrk (bench/wrk/webhook.lua) POSTs signed newCall events (HMAC-SHA256
   X-Omnitrail-Signature computed in Lua, unique call_id, a random preloaded caller) for
   --duration s; 2xx counted and verified in SQLite like the REST run.
3. Connector, asterisk_ami: the connector reading --ami-calls whole calls (shared/fixtures/ami/
   direct_call.ami, fresh ids and a preloaded caller each) written as fast as the socket takes
   them by the bench AMI peer; rate = interactions stored / (time of the last new row - first write).
4. Baseline, same run, same file: bench/insert_baseline.cpp inserts the REST run's rows with the
   raw sqlite3 C API (same schema, indexes and writer pragmas) in batched transactions.
Standard library only."""
import argparse
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import time

import benchlib

sys.path.insert(0, benchlib.HERE)
import pop_latency  # noqa: E402  (BenchAmiPeer, CallTemplate)


def count_rows(db_path, where, params=()):
    conn = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=10)
    try:
        return conn.execute("SELECT count(*), count(DISTINCT external_id) FROM interactions WHERE " + where,
                            params).fetchone()
    finally:
        conn.close()


def max_id(db_path):
    conn = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=10)
    try:
        return conn.execute("SELECT coalesce(max(id), 0) FROM interactions").fetchone()[0]
    finally:
        conn.close()


def writer_pragmas(synchronous="normal"):
    """The PRAGMAs omnitraild's writer connection runs (Database::configure_writer in
    daemon/store/database.cpp), read from the source so the baseline follows the daemon.
    Returns (list of "name=value", source)."""
    path = os.path.join(benchlib.ROOT, "daemon", "store", "database.cpp")
    try:
        src = open(path).read()
        body = re.search(r"void Database::configure_writer\(.*?\n}\n", src, re.S).group(0)
    except (OSError, AttributeError):
        return ["journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "secure_delete=ON"], "fallback"
    out = []
    for m in re.finditer(r'PRAGMA ([a-z_]+)=([A-Za-z0-9_-]+)', body):
        name, value = m.group(1), m.group(2)
        if name == "synchronous":
            value = synchronous.upper()
        if not any(p.startswith(name + "=") for p in out):
            out.append("%s=%s" % (name, value))
    return out, "daemon/store/database.cpp configure_writer"


WEBHOOK_SECRET = "bench-webhook-secret-0123456789abcdef"


def ami_connector():
    return ("connectors:\n  - name: cti\n    type: phone_webhook\n    path: /webhooks/cti\n"
            "    secret_file: secrets/cti.secret\n    region: US\n"
            "  - name: pbx\n    type: asterisk_ami\n    host: 127.0.0.1\n    port: %d\n"
            "    username: omni\n    secret_file: secrets/ami.secret\n    region: US\n"
            "    internal_contexts: [agents]\n    ping_interval: 5s\n    action_timeout: 5s\n"
            "    reconnect_min: 100ms\n    reconnect_max: 500ms\n")


def run_ami(peer, db_path, calls, customers, agents, timeout):
    tmpl = pop_latency.CallTemplate()
    rng = random.Random(11)
    blobs = []
    for n in range(calls):
        ext = rng.choice(agents)["ext"].encode()
        caller = benchlib.bench_phone(rng.randrange(customers)).encode()
        blobs.append(b"".join(tmpl.call(500000 + n, ext, caller)))
    data = b"".join(blobs)
    before = max_id(db_path)
    conn = peer.session
    t0 = time.monotonic()
    chunk = 1 << 16
    for off in range(0, len(data), chunk):
        conn.sendall(data[off:off + chunk])
    t_written = time.monotonic()
    last_n, last_change = 0, t0
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        n = count_rows(db_path, "id > ?", (before,))[0]
        now = time.monotonic()
        if n != last_n:
            last_n, last_change = n, now
        elif now - last_change > 2.0 and n > 0:
            break
        time.sleep(0.05)
    elapsed = max(1e-6, last_change - t0)
    return {"calls": calls, "bytes": len(data), "write_s": round(t_written - t0, 3),
            "interactions": last_n, "interactions_per_call": round(last_n / calls, 2) if calls else None,
            "elapsed_s": round(elapsed, 3), "interactions_per_s": round(last_n / elapsed, 1),
            "calls_per_s": round(calls / elapsed, 1), "timed_out": time.monotonic() >= deadline}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--omnitraild", default=os.environ.get("OMNITRAILD", ""))
    ap.add_argument("--store-file", required=True, help="preloaded store (bench/preload.py)")
    ap.add_argument("--customers", type=int, required=True, help="customers in the preloaded store")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of wrk load")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections")
    ap.add_argument("--ami-calls", type=int, default=5000)
    ap.add_argument("--ami-timeout", type=float, default=90.0)
    ap.add_argument("--batch", type=int, default=1000, help="baseline rows per transaction")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    omni = os.path.abspath(args.omnitraild)
    baseline_bin = benchlib.build_tool("insert_baseline", ["-lsqlite3"])
    agents = benchlib.make_agents(10)
    files = benchlib.agent_files(agents)
    files["secrets/ami.secret"] = "s3cret-ami\n"
    files["secrets/cti.secret"] = WEBHOOK_SECRET + "\n"
    peer = pop_latency.BenchAmiPeer()
    cfg = benchlib.config(agents=agents, connectors=ami_connector() % peer.port)
    result = {"benchmark": "ingest",
              "params": {"duration_s": args.duration, "wrk_threads": args.threads,
                         "wrk_connections": args.connections, "ami_calls": args.ami_calls,
                         "baseline_batch": args.batch, "customers": args.customers,
                         "store_file": args.store_file, "omnitraild": omni}}
    t_copy = time.monotonic()
    d = benchlib.daemon_with_store(omni, cfg, files, args.store_file)
    result["params"]["copy_s"] = round(time.monotonic() - t_copy, 2)
    db_path = os.path.join(d.path, "state", "omnitrail.db")
    try:
        d.start(timeout=120)
        if not peer.ready.wait(30):
            raise RuntimeError("AMI session never came up; log:\n" + d.log())
        prefix = "wrk%d" % int(time.time())
        env = {"BENCH_CUSTOMERS": str(args.customers), "BENCH_TOKEN": benchlib.ADMIN_TOKEN, "BENCH_PREFIX": prefix}
        w = benchlib.wrk("http://%s:%d" % (d.host, d.port), "ingest.lua", args.threads, args.connections,
                         args.duration, env)
        rows, distinct = count_rows(db_path, "source = 'api' AND external_id LIKE ?", (prefix + "-%",))
        secs = w["duration_us"] / 1e6
        api = {"acked_2xx": w["ok2xx"], "non_2xx": w["non2xx"], "duplicate_answers": w["dups"],
               "sent": w["requests"], "seconds": round(secs, 3),
               "interactions_per_s": round(w["ok2xx"] / secs, 1) if secs else None,
               "rows_in_sqlite": rows, "distinct_external_ids": distinct,
               "latency_p50_ms": w["latency_p50_us"] / 1000.0, "latency_p99_ms": w["latency_p99_us"] / 1000.0,
               "errors": {k: w[k] for k in w if k.startswith("errors_")}, "wrk": w["cmd"]}
        api["verified"] = rows >= w["ok2xx"] and rows == distinct and w["dups"] == 0 and w["ok2xx"] > 0
        api["unacked_but_stored"] = rows - w["ok2xx"]  # in flight when wrk stopped
        result["api"] = api
        wprefix = "wh%d" % int(time.time())
        env = {"BENCH_CUSTOMERS": str(args.customers), "BENCH_SECRET": WEBHOOK_SECRET, "BENCH_PREFIX": wprefix,
               "BENCH_PATH": "/webhooks/cti", "BENCH_EXTENSION": agents[0]["ext"]}
        w2 = benchlib.wrk("http://%s:%d" % (d.host, d.port), "webhook.lua", args.threads, args.connections,
                          args.duration, env)
        rows2, distinct2 = count_rows(db_path, "source = 'cti' AND external_id LIKE ?", (wprefix + "-%",))
        secs2 = w2["duration_us"] / 1e6
        hook = {"acked_2xx": w2["ok2xx"], "non_2xx": w2["non2xx"], "duplicate_answers": w2["dups"],
                "sent": w2["requests"], "seconds": round(secs2, 3),
                "interactions_per_s": round(w2["ok2xx"] / secs2, 1) if secs2 else None,
                "rows_in_sqlite": rows2, "distinct_external_ids": distinct2,
                "latency_p50_ms": w2["latency_p50_us"] / 1000.0, "latency_p99_ms": w2["latency_p99_us"] / 1000.0,
                "errors": {k: w2[k] for k in w2 if k.startswith("errors_")}, "wrk": w2["cmd"]}
        hook["verified"] = rows2 >= w2["ok2xx"] and rows2 == distinct2 and w2["dups"] == 0 and w2["ok2xx"] > 0
        hook["unacked_but_stored"] = rows2 - w2["ok2xx"]
        result["webhook"] = hook
        result["ami"] = run_ami(peer, db_path, args.ami_calls, args.customers, agents, args.ami_timeout)
        result["daemon_rss_kib"] = benchlib.rss_kib(d.proc.pid)
        benchlib.stop(d)
        # Baseline on the same file (now the preload plus this run's rows), same row count as REST.
        n = max(1000, w["ok2xx"])
        pragmas, pragma_source = writer_pragmas()
        cmd = [baseline_bin, db_path, "--rows", str(n), "--customers", str(args.customers), "--batch", str(args.batch)]
        for p in pragmas:
            cmd += ["--pragma", p]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600).stdout
        result["baseline"] = json.loads(out.strip().splitlines()[-1])
        result["baseline"]["tool"] = "bench/insert_baseline.cpp (raw sqlite3 C API)"
        result["baseline"]["pragma_source"] = pragma_source
    finally:
        d.__exit__(None, None, None)
        peer.close()
    base = result["baseline"]["rows_per_s"]
    result["ratio_api_over_raw"] = round(api["interactions_per_s"] / base, 3) if base else None
    result["ratio_webhook_over_raw"] = round(hook["interactions_per_s"] / base, 3) if base else None
    result["ratio_ami_over_raw"] = round(result["ami"]["interactions_per_s"] / base, 3) if base else None
    out = json.dumps(result, indent=2)
    if args.json:
        with open(args.json, "w") as f:
            f.write(out + "\n")
    print(out)


if __name__ == "__main__":
    main()
