"""Shared helpers for the Omnitrail benchmarks (standard library only): the preloaded store
(build, cache, copy, verify), daemon configs, wrk runs, RSS readings, percentiles."""
import json
import os
import random
import re
import resource
import struct
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.join(ROOT, "build-bench")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import harness  # noqa: E402

ADMIN_TOKEN = "admin-token-for-bench-0123456789"
AREAS = (212, 312, 415, 617, 702, 713, 808, 919)
MAX_CUSTOMERS = 8 * 70 * 10000


def bench_phone(i):
    """Phone of preloaded customer i (0-based). Same as bench/preload.cpp and bench/wrk/*.lua."""
    j = i // 8
    return "+1%03d%03d%04d" % (AREAS[i % 8], 230 + (j // 10000) % 70, j % 10000)


def pct(values, p):
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))  # nearest rank
    return s[k]


def ms(v):
    return None if v is None else round(v * 1000.0, 3)


def summary_ms(values):
    return {"count": len(values),
            "p50_ms": ms(pct(values, 50)), "p95_ms": ms(pct(values, 95)), "p99_ms": ms(pct(values, 99)),
            "max_ms": ms(max(values) if values else None),
            "mean_ms": ms(sum(values) / len(values) if values else None)}


def next_frame(buf):
    """The first complete (unmasked, server-sent) WebSocket frame in `buf`: (first header byte,
    payload, rest of buf), or None while it is incomplete."""
    if len(buf) < 2:
        return None
    n, off = buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, off = struct.unpack("!H", buf[2:4])[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, off = struct.unpack("!Q", buf[2:10])[0], 10
    if len(buf) < off + n:
        return None
    return buf[0], buf[off:off + n], buf[off + n:]


def raise_nofile(want):
    """Raises RLIMIT_NOFILE for this process and its children (daemon, servers, wrk)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = max(soft, want)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, max(hard, target)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(target, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def schema_version(db_path):
    conn = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
    try:
        return conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
    finally:
        conn.close()


def config(storage="state/omnitrail.db", agents=(), connectors="", max_connections=1024, threads=None,
           extra_limits="", level="warning"):
    limits = "{shutdown_timeout: 3s, max_connections: %d%s}" % (max_connections, extra_limits)
    lines = ["server:", '  listen: ["127.0.0.1:0"]', "  admin_token_files: [secrets/admin.token]",
             "  limits: " + limits]
    if threads:
        lines.append("  threads: %d" % threads)
    lines += ["storage:", "  sqlite_path: " + storage, "identity:", "  default_region: US"]
    if agents:
        lines.append("agents:")
        for a in agents:
            lines.append('  - {id: %s, name: %s, extensions: ["%s"], queues: [support], token_file: secrets/%s.token}'
                         % (a["id"], a["id"], a["ext"], a["id"]))
    if connectors:
        lines.append(connectors.rstrip("\n"))
    lines += ["logging:", "  level: " + level, ""]
    return "\n".join(lines)


def make_agents(n):
    return [{"id": "a%05d" % k, "ext": "%d" % (100000 + k), "token": "bench-token-%05d-0123456789abcdef" % k}
            for k in range(n)]


def agent_files(agents):
    files = {"secrets/%s.token" % a["id"]: a["token"] + "\n" for a in agents}
    files["secrets/admin.token"] = ADMIN_TOKEN + "\n"
    return files


def copy_store(src, dst):
    """Copies the preloaded store and fsyncs the copy: otherwise gigabytes of dirty page cache are
    written back while the benchmark runs, and the kernel throttles the daemon's own writes."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(src, dst)
    fd = os.open(dst, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def daemon_with_store(omnitraild, config_text, files, store_file=None):
    """A harness.Daemon (not started); with store_file, the preloaded DB is copied in as its store."""
    harness.OMNITRAILD = omnitraild
    d = harness.Daemon(config_text, files=files)
    if store_file:
        copy_store(store_file, os.path.join(d.path, "state", "omnitrail.db"))
    return d


def stop(d, timeout=15):
    """SIGTERM and wait (clean shutdown: the store is checkpointed); SIGKILL after timeout."""
    if d.proc and d.proc.poll() is None:
        d.proc.send_signal(signal.SIGTERM)
        try:
            d.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            d.kill()


def build_tool(name, libs):
    """Compiles bench/<name>.cpp into build-bench/<name> when missing or older than the source."""
    src = os.path.join(HERE, name + ".cpp")
    out = os.path.join(BUILD, name)
    if not os.path.exists(out) or os.path.getmtime(src) > os.path.getmtime(out):
        os.makedirs(BUILD, exist_ok=True)
        print("building %s" % out, file=sys.stderr)
        subprocess.run(["g++", "-std=c++20", "-O2", "-o", out + ".tmp", src] + libs, check=True)
        os.replace(out + ".tmp", out)
    return out


def upgrade_older_store(omnitraild, cache, version, customers, interactions, path, log=print):
    """When only an older schema version of the same size is cached, lets omnitraild migrate a copy
    (as it migrates a production store on upgrade) instead of preloading again. Returns meta or None."""
    older = []
    for name in os.listdir(cache):
        m = re.match(r"store-v(\d+)-c%d-i%d\.db$" % (customers, interactions), name)
        if m and int(m.group(1)) < version:
            older.append((int(m.group(1)), os.path.join(cache, name)))
    if not older:
        return None
    old_version, old_path = max(older)
    log("migrating the cached schema v%d store to v%d with omnitraild" % (old_version, version))
    t0 = time.monotonic()
    d = daemon_with_store(omnitraild, config(), agent_files([]), old_path)
    try:
        d.start(timeout=600)
        stop(d, timeout=120)
        db = os.path.join(d.path, "state", "omnitrail.db")
        if d.proc.returncode not in (0, -signal.SIGTERM) or schema_version(db) != version:
            log("migration did not produce schema v%d; preloading instead" % version)
            return None
        conn = sqlite3.connect(db)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        shutil.copyfile(db, path + ".tmp")
        os.replace(path + ".tmp", path)
    except (AssertionError, OSError, sqlite3.Error, subprocess.SubprocessError) as e:
        log("migrating the older store failed (%s); preloading instead" % e)
        return None
    finally:
        d.__exit__(None, None, None)
    if os.path.exists(old_path + ".json"):
        shutil.copyfile(old_path + ".json", path + ".json")
    return {"migrated_from_version": old_version, "migrate_s": round(time.monotonic() - t0, 1)}


def preloaded_store(omnitraild, customers, interactions, log=print):
    """Path of a cached preloaded store for (schema version, sizes), built if missing.
    The schema comes from omnitraild itself: it starts once on an empty path (applying its
    migrations) and is stopped; bench/preload.cpp then bulk-inserts the rows."""
    tool = build_tool("preload", ["-lsqlite3"])
    cache = os.path.join(BUILD, "stores")
    os.makedirs(cache, exist_ok=True)
    d = daemon_with_store(omnitraild, config(), agent_files([]))
    try:
        d.start(timeout=60)
        stop(d)
        fresh = os.path.join(d.path, "state", "omnitrail.db")
        version = schema_version(fresh)
        path = os.path.join(cache, "store-v%d-c%d-i%d.db" % (version, customers, interactions))
        meta = {"path": path, "schema_version": version, "customers": customers, "interactions": interactions,
                "cached": os.path.exists(path)}
        if not meta["cached"]:
            upgraded = upgrade_older_store(omnitraild, cache, version, customers, interactions, path, log)
            if upgraded:
                meta.update(upgraded)
        if not os.path.exists(path):
            log("preloading %d customers / %d interactions into %s" % (customers, interactions, path))
            for suffix in ("-wal", "-shm"):
                if os.path.exists(fresh + suffix):
                    os.remove(fresh + suffix)
            t0 = time.monotonic()
            out = subprocess.run([tool, fresh, "--customers", str(customers), "--interactions", str(interactions)],
                                 check=True, capture_output=True, text=True, timeout=3600).stdout
            meta["build"] = json.loads(out.strip().splitlines()[-1])
            meta["build_s"] = round(time.monotonic() - t0, 1)
            shutil.copyfile(fresh, path + ".tmp")
            os.replace(path + ".tmp", path)
            with open(path + ".json", "w") as f:
                json.dump(meta["build"], f)
        elif os.path.exists(path + ".json"):
            meta["build"] = json.load(open(path + ".json"))
    finally:
        d.__exit__(None, None, None)
    meta["db_bytes"] = os.path.getsize(path)
    return meta


def verify_store(omnitraild, store, customers, samples=20, seed=7):
    """Starts omnitraild on a copy of the store and looks up sample customers' phones over REST."""
    d = daemon_with_store(omnitraild, config(), agent_files([]), store)
    rng = random.Random(seed)
    picks = sorted({0, customers - 1} | {rng.randrange(customers) for _ in range(samples)})
    found, bad = 0, []
    try:
        t0 = time.monotonic()
        d.start(timeout=120)
        startup = time.monotonic() - t0
        hdr = {"Authorization": "Bearer " + ADMIN_TOKEN}
        for i in picks:
            phone = bench_phone(i)
            status, body = harness.call(d, "GET", "/api/v1/customers/lookup?value=" + phone.replace("+", "%2B"),
                                        token=hdr)
            name = body.get("customer", body).get("display_name") if isinstance(body, dict) else None
            ok = status == 200 and ("Bench Customer %d" % i) in json.dumps(body)
            found += ok
            if not ok and len(bad) < 3:
                bad.append({"i": i, "phone": phone, "status": status, "name": name,
                            "body": json.dumps(body)[:300] if isinstance(body, dict) else str(body)[:300]})
    finally:
        stop(d)
        d.__exit__(None, None, None)
    return {"startup_s": round(startup, 2), "lookups": len(picks), "found": found, "failures": bad}


WRK_LINE = re.compile(r"^BENCHJSON (.*)$", re.M)


def wrk(url, script, threads, connections, duration, env=None, timeout_s=None, extra=()):
    """Runs wrk with a Lua script from bench/wrk/ that prints one 'BENCHJSON {...}' line in done()."""
    cmd = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % max(1, int(round(duration))),
           "--timeout", "%ds" % (timeout_s or 10), "-s", os.path.join(HERE, "wrk", script)] + list(extra) + [url]
    e = dict(os.environ)
    e.update(env or {})
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=duration + 60)
    wall = time.monotonic() - t0
    m = WRK_LINE.search(p.stdout)
    if p.returncode != 0 or not m:
        raise RuntimeError("wrk failed (%s): %s %s" % (p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
    out = json.loads(m.group(1))
    out["wall_s"] = round(wall, 3)
    out["cmd"] = " ".join(cmd[:-1])
    return out


def start_server(path, args=()):
    proc = subprocess.Popen([path] + list(args), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = proc.stdout.readline().decode()
    return proc, int(line.split()[1])


def kill(proc):
    if proc and proc.poll() is None:
        proc.kill()
        proc.wait(5)
