#!/usr/bin/env python3
"""Turns the bench result JSON files into bench/results/latest.{json,md}: the machine, the
parameters, absolute figures, same-run baselines, ratios, and issue #10's targets as met / not met
(computed from the figures of this run; a target measured below the issue's scale says so)."""
import argparse
import datetime
import json
import os
import platform
import subprocess

SCALE = {"agents": 1000, "rate_cps": 50, "customers": 1000000, "interactions": 10000000, "connections": 10000}


def machine():
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1048576.0)
    except OSError:
        pass
    rev = ""
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        rev = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--", "daemon", "connectors"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        if dirty:
            rev += " (+ uncommitted daemon/connector changes)"
    except Exception:
        pass
    try:
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=5)
        wrk_v = (wrk.stdout + wrk.stderr).split("\n")[0].strip()
    except Exception:
        wrk_v = "not installed"
    return {"nproc": os.cpu_count(), "cpu_model": model, "memory": mem, "kernel": platform.release(),
            "python": platform.python_version(), "wrk": wrk_v, "git_head": rev,
            "omnitraild_source": os.environ.get("BENCH_OMNITRAILD_SOURCE") or None,
            "loadavg_at_start": os.environ.get("BENCH_LOADAVG_START", "").split() or None,
            "loadavg_at_report": open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else None}


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        v = ("%.3f" % v).rstrip("0").rstrip(".") if abs(v) < 100 else "%.1f" % v
    return "%s%s" % (v, unit)


def verdict(ok, full_scale, why=""):
    s = "met" if ok else "not met"
    if not full_scale:
        s += " (at reduced scale%s)" % (": " + why if why else "")
    return s


class Report:
    def __init__(self, inputs, args):
        self.args = args
        self.by = {}
        for r in inputs:
            self.by.setdefault(r.get("benchmark"), []).append(r)
        self.md = []
        self.targets = []

    def one(self, name):
        rs = self.by.get(name) or []
        return rs[-1] if rs else None

    def target(self, what, status, detail=""):
        if self.args.mode == "quick" and status.startswith(("met", "not met")) and "reduced scale" not in status:
            status += " (--quick run: shorter idle/durations)"
        self.targets.append({"target": what, "status": status, "detail": detail})

    def failed(self, name, title):
        r = self.one(name)
        if r is not None and r.get("error"):
            self.md += ["## " + title, "", "**Failed:** `%s`" % r["error"][-1500:], ""]
            return None
        if r is None:
            self.md += ["## " + title, "", "Not run.", ""]
        return r

    def store_scale(self):
        p = self.one("preload")
        if p and not p.get("error"):
            return p["store"]["customers"], p["store"]["interactions"]
        return 0, 0

    def preload(self):
        r = self.failed("preload", "Preloaded store")
        if not r:
            return
        s = r["store"]
        v = s["verify"]
        b = s.get("build") or {}
        self.md += ["## Preloaded store", "",
                    "%d customers (%d identities), %d conversations, %d interactions, schema version %d, %.1f MiB; "
                    "%s. omnitraild started on a copy in %s s and found %d of %d sampled customers by phone "
                    "(GET /api/v1/customers/lookup)."
                    % (s["customers"], b.get("identities", 0), b.get("conversations", 0), s["interactions"],
                       s["schema_version"], s["db_bytes"] / 1048576.0,
                       "reused from the cache" if s["cached"] else
                       ("migrated by omnitraild from the cached schema v%s store in %s s"
                        % (s["migrated_from_version"], s.get("migrate_s"))) if s.get("migrated_from_version") else
                       "built in %s s" % s.get("build_s"),
                       v["startup_s"], v["found"], v["lookups"]), ""]
        if v["failures"]:
            self.md += ["Lookup failures: `%s`" % json.dumps(v["failures"])[:600], ""]
        c, _ = self.store_scale()
        self.target("preload: 1M customers / 10M interactions, daemon finds them",
                    verdict(v["found"] == v["lookups"], c >= SCALE["customers"] and s["interactions"] >= SCALE["interactions"],
                            "%d customers / %d interactions" % (c, s["interactions"])))

    def pop(self):
        r = self.failed("pop_latency", "Pop latency")
        if not r:
            return
        p, pop, lk, ec = r["params"], r["pop"], r["lookup"], r["echo"]
        self.md += ["## Pop latency (AMI DialBegin bytes written -> pop.ringing frame received)", "",
                    "Parameters: %d agents, %g calls/s for %g s (%d calls), ring hold %g s, store: %s; agents' "
                    "side: %s (the echo baseline uses the same client); the AMI generator writes with TCP_NODELAY."
                    % (p["agents"], p["rate_cps"], p["duration_s"], pop["calls"], p["ring_hold_s"],
                       ("preloaded, %d customers, callers are distinct preloaded customers" % p["customers"])
                       if p.get("store_file") else "empty (every caller new)", p.get("receiver", "Python")), "",
                    "| measurement | count | p50 ms | p95 ms | p99 ms | max ms | mean ms |", "|---|---|---|---|---|---|---|"]
        for name, s in (("pop latency (omnitraild)", pop),
                        ("baseline: WS echo round trip (%s, %d B)" % (ec["server"], ec["payload_bytes"]), ec),
                        ("baseline: SQLite phone-key lookup (python sqlite3, %d identity rows)" % lk["identities_rows"], lk)):
            self.md.append("| %s | %d | %s | %s | %s | %s | %s |" % (name, s["count"], fmt(s["p50_ms"]), fmt(s["p95_ms"]),
                                                                    fmt(s["p99_ms"]), fmt(s["max_ms"]), fmt(s["mean_ms"])))
        self.md += ["", "- Lost pops: **%d** of %d; to the wrong agent: %d; frames: %s; median pop frame %s B."
                    % (pop["lost"], pop["calls"], pop["wrong_agent"], pop["messages_by_type"], pop["frame_bytes_median"]),
                    "- Generator lateness: %d calls behind schedule, max %s ms." % (pop["generator_late_count"],
                                                                                 pop["generator_late_max_ms"]),
                    "- Baseline p99 sum (echo + lookup): **%s ms**; pop p99 / baseline sum: **%s**."
                    % (fmt(r["baseline_p99_sum_ms"]), fmt(r["ratio_pop_p99_over_baseline_p99"])),
                    "- Lookup plan: `%s`." % lk["plan"]]
        h = r.get("daemon_histogram") or {}
        if h.get("count"):
            self.md += ["- omnitraild's own histogram (`omnitrail_pop_latency_seconds`: trigger handed to ingest -> pop "
                        "frame written to the socket; bucket upper bounds): %d pops, mean %s ms, p50 <= %s ms, "
                        "p95 <= %s ms, p99 <= %s ms. The client-side figures add the AMI read and parse before ingest, the kernel "
                        "and the client."
                        % (h["count"], fmt(h["mean_ms"]), fmt(h["p50_le_ms"]), fmt(h["p95_le_ms"]), fmt(h["p99_le_ms"]))]
        self.md += [""]
        c, _ = self.store_scale()
        full = p["agents"] >= SCALE["agents"] and p["rate_cps"] >= SCALE["rate_cps"] and \
            p.get("customers", 0) >= SCALE["customers"]
        why = "%d agents, %g calls/s, %d preloaded customers" % (p["agents"], p["rate_cps"], p.get("customers", 0))
        ok = pop["p99_ms"] is not None and pop["p99_ms"] <= self.args.target_pop_p99_ms and pop["lost"] == 0
        self.target("pop p99 <= %g ms at 50 calls/s, 1,000 agents (no lost pops)" % self.args.target_pop_p99_ms,
                    verdict(ok, full, why), "p99 %s ms, lost %d" % (fmt(pop["p99_ms"]), pop["lost"]))
        ratio = r["ratio_pop_p99_over_baseline_p99"]
        self.target("pop p99 <= %gx baseline p99 sum (echo + SQLite lookup)" % self.args.target_ratio,
                    verdict(ratio is not None and ratio <= self.args.target_ratio, full, why), "ratio %s" % fmt(ratio))

    def isolation(self):
        r = self.failed("isolation", "Isolation: pop latency during ingest bursts")
        if not r:
            return
        iso, p = r.get("isolation"), r["params"]
        if not iso:
            self.md += ["## Isolation", "", "No isolation data.", ""]
            return
        self.md += ["## Isolation: pop latency during ingest bursts", "",
                    "pop_latency with %d agents at %g calls/s for %g s; first half idle, second half back-to-back "
                    "bursts of %d POST /api/v1/interactions (wrk, 2 threads, 16 connections, as fast as possible)."
                    % (p["agents"], p["rate_cps"], p["duration_s"], iso["burst_interactions"]), "",
                    "| phase | pops | p50 ms | p95 ms | p99 ms | max ms | lost |", "|---|---|---|---|---|---|---|"]
        for name in ("idle", "burst"):
            s = iso[name]
            self.md.append("| %s | %d | %s | %s | %s | %s | %d |" % (name, s["count"], fmt(s["p50_ms"]), fmt(s["p95_ms"]),
                                                                    fmt(s["p99_ms"]), fmt(s["max_ms"]), s["lost"]))
        rates = [x for x in iso["burst_interactions_per_s"] if x]
        self.md += ["", "- %d bursts, %s s each (%s interactions/s while bursting)%s."
                    % (iso["bursts"], ", ".join(fmt(x) for x in iso["burst_seconds"][:8]) +
                       (" ..." if len(iso["burst_seconds"]) > 8 else ""),
                       "%.0f-%.0f" % (min(rates), max(rates)) if rates else "n/a",
                       "; errors: %s" % iso["burst_errors"] if iso["burst_errors"] else ""),
                    "- burst p99 / idle p99: **%s**." % fmt(iso["ratio_burst_p99_over_idle_p99"]),
                    "- Few pops fall inside the bursts at low call rates: p99 over ~100 samples is close to the max.", ""]
        full = p["agents"] >= SCALE["agents"] and p["rate_cps"] >= SCALE["rate_cps"]
        ratio = iso["ratio_burst_p99_over_idle_p99"]
        self.target("pop p99 during a 2,000-interaction burst <= 3x idle p99",
                    verdict(ratio is not None and ratio <= 3.0 and iso["burst"]["lost"] == 0, full,
                            "%d agents, %g calls/s" % (p["agents"], p["rate_cps"])),
                    "ratio %s, burst pops %d" % (fmt(ratio), iso["burst"]["count"]))

    def ingest(self):
        r = self.failed("ingest", "Ingest throughput")
        if not r:
            return
        p, api, ami, base = r["params"], r["api"], r["ami"], r["baseline"]
        hook = r.get("webhook") or {}
        self.md += ["## Ingest throughput (preloaded store, %d customers)" % p["customers"], "",
                    "| path | interactions/s | detail |", "|---|---|---|",
                    "| REST POST /api/v1/interactions (wrk %d threads, %d connections, %g s) | **%s** | %d acknowledged (2xx), "
                    "%d non-2xx, %d duplicate answers; latency p50 %s ms, p99 %s ms |"
                    % (p["wrk_threads"], p["wrk_connections"], p["duration_s"], fmt(api["interactions_per_s"]),
                       api["acked_2xx"], api["non_2xx"], api["duplicate_answers"], fmt(api["latency_p50_ms"]),
                       fmt(api["latency_p99_ms"])),
                    "| connector: phone_webhook, signed newCall POSTs (wrk, same settings) | **%s** | %d acknowledged (2xx), "
                    "%d non-2xx, %d duplicate answers; latency p50 %s ms, p99 %s ms; %s in SQLite |"
                    % (fmt(hook.get("interactions_per_s")), hook.get("acked_2xx", 0), hook.get("non_2xx", 0),
                       hook.get("duplicate_answers", 0), fmt(hook.get("latency_p50_ms")), fmt(hook.get("latency_p99_ms")),
                       "verified" if hook.get("verified") else "NOT verified"),
                    "| connector: asterisk_ami (%d calls from the bench AMI peer, %s interactions/call) | **%s** | "
                    "%d interactions in %s s (%s calls/s)%s |"
                    % (ami["calls"], fmt(ami["interactions_per_call"]), fmt(ami["interactions_per_s"]), ami["interactions"],
                       fmt(ami["elapsed_s"]), fmt(ami["calls_per_s"]), "; TIMED OUT" if ami["timed_out"] else ""),
                    "| baseline: raw sqlite3 C API, same rows/schema/pragmas, %d rows per transaction | **%s** | %d rows "
                    "in %s s (bench/insert_baseline.cpp; `%s`) |" % (base["batch"], fmt(base["rows_per_s"]), base["rows"],
                                                                     fmt(base["seconds"]), base.get("pragmas", "?")),
                    "",
                    "- Durability check in SQLite after the REST run: %d rows with this run's external_ids (%d distinct) "
                    "for %d acknowledged -> **%s** (%d stored but unacknowledged: in flight when wrk stopped)."
                    % (api["rows_in_sqlite"], api["distinct_external_ids"], api["acked_2xx"],
                       "verified" if api["verified"] else "FAILED", api["unacked_but_stored"]),
                    "- Ratios: REST / raw = **%s**, phone_webhook / raw = **%s**, AMI connector / raw = **%s**."
                    % (fmt(r["ratio_api_over_raw"]), fmt(r.get("ratio_webhook_over_raw")), fmt(r["ratio_ami_over_raw"])), ""]
        full = p["customers"] >= SCALE["customers"]
        why = "%d preloaded customers" % p["customers"]
        self.target("ingest (REST) >= 0.5x raw SQLite insert, all acknowledged rows stored",
                    verdict(r["ratio_api_over_raw"] is not None and r["ratio_api_over_raw"] >= 0.5 and api["verified"],
                            full, why), "ratio %s" % fmt(r["ratio_api_over_raw"]))
        if hook:
            self.target("ingest (phone_webhook connector) >= 0.5x raw SQLite insert, all acknowledged rows stored",
                        verdict(r.get("ratio_webhook_over_raw") is not None and r["ratio_webhook_over_raw"] >= 0.5
                                and hook.get("verified"), full, why), "ratio %s" % fmt(r.get("ratio_webhook_over_raw")))
        self.target("ingest (AMI connector) >= 0.5x raw SQLite insert",
                    verdict(r["ratio_ami_over_raw"] is not None and r["ratio_ami_over_raw"] >= 0.5 and not ami["timed_out"],
                            full, why), "ratio %s" % fmt(r["ratio_ami_over_raw"]))

    def lookup(self):
        r = self.failed("lookup", "REST lookup")
        if not r:
            return
        p, o, h = r["params"], r["omnitraild"], r["hello"]
        self.md += ["## REST lookup by phone (wrk, keep-alive)", "",
                    "wrk %d threads, %d connections, %g s, a random preloaded customer's phone per request (%d customers); "
                    "server I/O threads: %d (omnitraild server.threads and the hello server)."
                    % (p["wrk_threads"], p["connections"], p["duration_s"], p["customers"], p["server_threads"]), "",
                    "| server | req/s | 2xx | non-2xx | p50 ms | p99 ms | max ms |", "|---|---|---|---|---|---|---|"]
        for name, s in (("omnitraild GET /api/v1/customers/lookup", o), ("baseline: " + h["server"], h)):
            errs = sum(s["errors"].values())
            self.md.append("| %s | **%s** | %d | %d%s | %s | %s | %s |" % (
                name, fmt(s["req_per_s"]), s["ok_2xx"], s["non_2xx"], " (+%d socket errors)" % errs if errs else "",
                fmt(s["latency_p50_ms"]), fmt(s["latency_p99_ms"]), fmt(s["latency_max_ms"])))
        self.md += ["", "- Ratio omnitraild / hello: **%s**." % fmt(r["ratio_omnitraild_over_hello"]), ""]
        ratio = r["ratio_omnitraild_over_hello"]
        self.target("lookup >= 0.5x bare Beast hello (same wrk settings)",
                    verdict(ratio is not None and ratio >= 0.5 and o["non_2xx"] == 0, p["customers"] >= SCALE["customers"],
                            "%d preloaded customers" % p["customers"]), "ratio %s" % fmt(ratio))

    def connections(self):
        r = self.failed("connections", "Memory per idle connection")
        if not r:
            return
        p = r["params"]
        self.md += ["## Memory per idle connection (VmRSS)", "",
                    "N authenticated agent WebSockets over %d configured agents (round-robin; hello read, idle %g s, "
                    "pings answered); RSS before any connection: omnitraild %d KiB, echo %d KiB. RLIMIT_NOFILE %d, "
                    "max_connections %d."
                    % (p["agents_configured"], p["idle_s"], r["omnitraild"]["rss_before_kib"], r["echo"]["rss_before_kib"], p["rlimit_nofile"],
                       p["max_connections"]), "",
                    "| connections | omnitraild RSS KiB | omnitraild KiB/conn | (increment from previous level) "
                    "| echo RSS KiB | echo KiB/conn | (increment) | ratio |",
                    "|---|---|---|---|---|---|---|---|"]
        o = {x["connections"]: x for x in r["omnitraild"]["levels"]}
        e = {x["connections"]: x for x in r["echo"]["levels"]}
        for row in r["per_level"]:
            n = row["connections"]
            self.md.append("| %d | %d | **%s** | %s | %d | %s | %s | %s |" % (
                n, o[n]["rss_kib"], fmt(row["omnitraild_kib_per_conn"]), fmt(row.get("omnitraild_incremental_kib_per_conn")),
                e[n]["rss_kib"], fmt(row["echo_kib_per_conn"]), fmt(row.get("echo_incremental_kib_per_conn")),
                fmt(row["ratio"])))
        closed = r["omnitraild"]["levels"][-1]["closed_by_server"]
        self.md += ["", "- Closed by omnitraild while idle: %d; refused: %d." % (closed, r["omnitraild"]["failures"]), ""]
        top = r["per_level"][-1]
        self.target("<= 16 KiB RSS per idle agent WebSocket at 10k connections",
                    verdict(top["omnitraild_kib_per_conn"] <= 16 and closed == 0 and r["omnitraild"]["failures"] == 0,
                            top["connections"] >= SCALE["connections"], "%d connections" % top["connections"]),
                    "%s KiB/conn at %d" % (fmt(top["omnitraild_kib_per_conn"]), top["connections"]))
        self.visitors(r)

    def visitors(self, r):
        v = r.get("visitors")
        what = "<= 16 KiB RSS per idle chat visitor at 10k (hello answered, no chat)"
        if v is None:  # reports from before the webchat connector
            self.md += ["- Idle chat visitor: **%s**." % r.get("chat_visitor", "not measured"), ""]
            self.target(what, r.get("chat_visitor", "not measured"))
            return
        self.md += ["### Idle chat visitors (webchat connector)", ""]
        if v.get("error"):
            self.md += ["**%s**" % v["error"][-1500:], ""]
            self.target(what, "not measured", v["error"][-200:])
            return
        run = v.get("run")
        p = run["params"] if run else r["params"]
        echo = run["echo"] if run else r["echo"]
        if run:
            agents = run["agents"]["per_level"][-1]
            self.md += ["**These rows come from a separate `%s` run on %s** (git HEAD %s, load average at its start %s), "
                        "added to this report without rerunning the other benchmarks; the echo columns are that run's "
                        "baseline.%s The same run measured the agent WebSockets again: %s KiB/conn at %d (echo %s)."
                        % (run["command"], run["generated_at"], run.get("git_head") or "?",
                           " ".join(run.get("loadavg_at_start") or ["?"]),
                           " omnitraild: %s." % run["omnitraild_source"] if run.get("omnitraild_source") else "",
                           fmt(agents["omnitraild_kib_per_conn"]),
                           agents["connections"], fmt(agents["echo_kib_per_conn"])), ""]
        sources = v["sources"]
        self.md += ["N visitor WebSockets on `%s` (Origin `%s` allowed) from %s, each sent `hello` (no token, no "
                    "identity) and read its `welcome` (median %s B), then idle %g s, pings answered. State measured: "
                    "a greeted visitor session (visitor id, signed token) **without a chat** - a chat starts with the "
                    "visitor's first message. Connector limits for the bench: max_connections_per_address %d "
                    "(the validation caps it at %d), max_visitors %d; RSS before any visitor: omnitraild %d KiB "
                    "(fresh daemon, same %d agents configured), echo %d KiB."
                    % (v["path"], v["origin"], sources[0] if len(sources) == 1 else "%d source addresses %s..%s"
                       % (len(sources), sources[0], sources[-1]), fmt(v.get("welcome_bytes")), p["idle_s"],
                       v["max_connections_per_address"], v["max_connections_per_address_cap"], v["max_visitors"],
                       v["omnitraild"]["rss_before_kib"], p["agents_configured"], echo["rss_before_kib"]), "",
                    "| visitors | omnitraild RSS KiB | omnitraild KiB/visitor | (increment from previous level) "
                    "| echo RSS KiB | echo KiB/conn | (increment) | ratio |",
                    "|---|---|---|---|---|---|---|---|"]
        o = {x["connections"]: x for x in v["omnitraild"]["levels"]}
        e = {x["connections"]: x for x in echo["levels"]}
        for row in v["per_level"]:
            n = row["connections"]
            self.md.append("| %d | %d | **%s** | %s | %d | %s | %s | %s |" % (
                n, o[n]["rss_kib"], fmt(row["omnitraild_kib_per_conn"]), fmt(row.get("omnitraild_incremental_kib_per_conn")),
                e[n]["rss_kib"], fmt(row["echo_kib_per_conn"]), fmt(row.get("echo_incremental_kib_per_conn")),
                fmt(row["ratio"])))
        last = v["omnitraild"]["levels"][-1]
        probe = last.get("probe") or {}
        closed, failures = last["closed_by_server"], v["omnitraild"]["failures"]
        self.md += ["", "- The connector at %d (its /metrics): omnitrail_webchat_visitors %s, omnitrail_webchat_chats %s, "
                    "refused %s. Closed by omnitraild while idle: %d; refused handshakes: %d."
                    % (last["connections"], probe.get("visitors"), probe.get("chats"), probe.get("refused") or "none",
                       closed, failures), ""]
        top = v["per_level"][-1]
        ok = (top["omnitraild_kib_per_conn"] <= 16 and closed == 0 and failures == 0
              and probe.get("visitors") == top["connections"] and probe.get("chats") == 0)
        self.target(what, verdict(ok, top["connections"] >= SCALE["connections"], "%d visitors" % top["connections"]),
                    "%s KiB/visitor at %d%s" % (fmt(top["omnitraild_kib_per_conn"]), top["connections"],
                                                " (%s)" % run["generated_at"][:10] if run else ""))

    def render(self, report):
        m = report["machine"]
        head = ["# Omnitrail benchmark report (issue #10)", "",
                "Generated %s by `bench/run.sh%s`; every baseline was measured in the same run on this machine."
                % (report["generated_at"], " --quick" if self.args.mode == "quick" else "")]
        for a in report.get("amendments") or []:
            head += ["", "Amended %s: %s from `%s` (git HEAD %s%s), with that run's own baseline; everything else "
                     "is from the run above." % (a["at"], a["what"], a["from"], a.get("git_head") or "?",
                                                 "; omnitraild: " + a["omnitraild_source"] if a.get("omnitraild_source") else "")]
        head += ["",
                "## Machine", "", "| nproc | CPU | memory | kernel | python | wrk | git HEAD |",
                "|---|---|---|---|---|---|---|",
                "| %s | %s | %s | %s | %s | %s | %s |" % (m["nproc"], m["cpu_model"], m["memory"], m["kernel"], m["python"],
                                                     m["wrk"], m["git_head"] or "?"),
                "", "Load average (1/5/15 min) at the start: %s, at the end: %s. Load generators (python, wrk) and "
                "omnitraild share these cores; see bench/README.md caveats."
                % (" ".join(m["loadavg_at_start"] or ["?"]), " ".join(m["loadavg_at_report"] or ["?"]))]
        if m.get("omnitraild_source"):
            head += ["", "omnitraild: %s." % m["omnitraild_source"]]
        head += [""]
        tail = ["## Targets (issue #10)", "",
                "Computed from this run's figures. \"at reduced scale\" = measured below the issue's scale "
                "(1,000 agents, 50 calls/s, 1M customers / 10M interactions, 10k connections).", "",
                "| target | status | figure |", "|---|---|---|"]
        tail += ["| %s | %s | %s |" % (t["target"], t["status"], t["detail"]) for t in self.targets]
        return "\n".join(head + self.md + tail) + "\n"


def amend_visitors(base, part):
    """The full-run report `base` with the idle chat visitor rows of a later partial run `part`
    (bench/run.sh --only connections) added to its connections benchmark; the rest is unchanged."""
    if base.get("mode") != part.get("mode"):
        raise SystemExit("cannot amend a %s report with a %s run" % (base.get("mode"), part.get("mode")))
    new = [b for b in part["benchmarks"] if b.get("benchmark") == "connections"]
    if not new or new[-1].get("error") or "omnitraild" not in (new[-1].get("visitors") or {}):
        raise SystemExit("%s has no measured chat visitors" % "the partial run")
    new = new[-1]
    old = [b for b in base["benchmarks"] if b.get("benchmark") == "connections"]
    if not old or old[-1].get("error"):
        raise SystemExit("the base report has no connections benchmark to add the visitors to")
    pm = part["machine"]
    command = "bench/run.sh --only connections" + (" --quick" if part.get("mode") == "quick" else "")
    visitors = dict(new["visitors"])
    visitors["run"] = {"command": command, "generated_at": part["generated_at"], "git_head": pm.get("git_head"),
                       "omnitraild_source": pm.get("omnitraild_source"),
                       "loadavg_at_start": pm.get("loadavg_at_start"), "loadavg_at_report": pm.get("loadavg_at_report"),
                       "machine": {k: pm.get(k) for k in ("nproc", "cpu_model", "memory", "kernel", "python")},
                       "stage_seconds": part.get("stage_seconds", {}).get("connections"),
                       "params": new["params"], "echo": new["echo"],
                       "agents": {"omnitraild": new["omnitraild"], "per_level": new["per_level"]}}
    old[-1]["visitors"] = visitors
    old[-1].pop("chat_visitor", None)
    base["amendments"] = [a for a in base.get("amendments") or [] if a.get("what") != "idle chat visitor rows"] + [
        {"at": part["generated_at"], "what": "idle chat visitor rows", "from": command, "git_head": pm.get("git_head"),
         "omnitraild_source": pm.get("omnitraild_source")}]
    return base


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inputs", nargs="*")
    ap.add_argument("--json-out", required=True)
    ap.add_argument("--md-out", required=True)
    ap.add_argument("--target-pop-p99-ms", type=float, default=2.0)
    ap.add_argument("--target-ratio", type=float, default=2.0)
    ap.add_argument("--mode", default="")
    ap.add_argument("--timings", default="", help="file of 'stage seconds' lines (bench/run.sh)")
    ap.add_argument("--amend", default="", metavar="REPORT.json",
                    help="re-render this earlier full report with --visitors-from's chat visitor rows added")
    ap.add_argument("--visitors-from", default="", metavar="REPORT.json",
                    help="the report of a `bench/run.sh --only connections` run (bench/results/tmp/)")
    args = ap.parse_args()
    if args.amend:
        if not args.visitors_from:
            ap.error("--amend needs --visitors-from")
        report = amend_visitors(json.load(open(args.amend)), json.load(open(args.visitors_from)))
        results = report["benchmarks"]
        args.mode = report.get("mode", "full")
        args.target_pop_p99_ms = report.get("targets_config", {}).get("pop_p99_ms", args.target_pop_p99_ms)
        args.target_ratio = report.get("targets_config", {}).get("ratio", args.target_ratio)
        timings = sorted(report.get("stage_seconds", {}).items(), key=lambda t: t[0] == "total")
    else:
        results = []
        for p in args.inputs:
            if os.path.exists(p):
                try:
                    results.append(json.load(open(p)))
                except ValueError as e:
                    results.append({"benchmark": os.path.basename(p).split(".")[0], "error": "unreadable JSON: %s" % e})
        timings = []
        if args.timings and os.path.exists(args.timings):
            for line in open(args.timings):
                parts = line.split()
                if len(parts) == 2 and parts[1].isdigit():
                    timings.append((parts[0], int(parts[1])))
        report = {"generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  "mode": args.mode or "full", "machine": machine(), "benchmarks": results,
                  "stage_seconds": dict(timings),
                  "targets_config": {"pop_p99_ms": args.target_pop_p99_ms, "ratio": args.target_ratio}}
    rep = Report(results, args)
    rep.preload()
    rep.pop()
    rep.isolation()
    rep.ingest()
    rep.lookup()
    rep.connections()
    report["targets"] = rep.targets
    md = rep.render(report)
    if timings:
        md += "\nWall time per stage (s): %s.\n" % ", ".join("%s %d" % t for t in timings)
    for b in results:
        run = (b.get("visitors") or {}).get("run") if b.get("benchmark") == "connections" else None
        if run and run.get("stage_seconds") is not None:
            md += "The `%s` run that measured the chat visitors took %d s.\n" % (run["command"], run["stage_seconds"])
    with open(args.json_out, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    with open(args.md_out, "w") as f:
        f.write(md)


if __name__ == "__main__":
    main()
