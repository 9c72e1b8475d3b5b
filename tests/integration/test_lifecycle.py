"""systemd lifecycle of the real binary: READY, probes, SIGHUP reload (valid and invalid),
watchdog pings, SIGTERM drain within the bound."""
import json
import os
import signal
import socket
import time
import unittest

from harness import Daemon, MINIMAL_CONFIG, main


class LifecycleTest(unittest.TestCase):
    def test_ready_probes_and_metrics(self):
        with Daemon(MINIMAL_CONFIG) as d:
            self.assertIn("listening on http://127.0.0.1:", d.last_status())
            status, body = d.get_json("/healthz")
            self.assertEqual(status, 200)
            self.assertEqual(body["status"], "alive")
            status, body = d.get_json("/readyz")
            self.assertEqual(status, 200, body)
            self.assertEqual(body["status"], "ready")
            self.assertEqual(body["store"]["state"], "up")
            self.assertEqual(body["connectors"], [])
            # The store is a real SQLite file, relative to the config file's folder.
            self.assertTrue(os.path.getsize(os.path.join(d.path, "state", "omnitrail.db")) > 0)
            status, headers, data = d.request("GET", "/metrics")
            self.assertEqual(status, 200)
            self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"))
            text = data.decode()
            self.assertIn("# TYPE omnitrail_build_info gauge", text)
            self.assertRegex(text, r'omnitrail_http_requests_total\{code="200"\} [1-9]')
            self.assertIn("omnitrail_store_write_queue_depth 0", text)

    def test_reload_valid_then_invalid_keeps_serving(self):
        with Daemon(MINIMAL_CONFIG) as d:
            mark = len(d.messages)
            d.write_config(MINIMAL_CONFIG.replace("level: debug", "level: warning"))
            d.signal(signal.SIGHUP)
            d.wait_for("RELOADING=1", start=mark)
            d.wait_for("READY=1", start=mark + 1)
            self.assertIn("configuration reloaded", d.last_status())

            mark = len(d.messages)
            d.write_config(MINIMAL_CONFIG + "\nbogus_section: 1\n")
            d.signal(signal.SIGHUP)
            d.wait_for("RELOADING=1", start=mark)
            d.wait_for("READY=1", start=mark + 1)
            self.assertIn("reload rejected", d.last_status())
            self.assertIn("still running the previous configuration", d.last_status())
            log = d.log()
            self.assertRegex(log, r"omnitrail\.yaml:\d+:\d+: bogus_section: ")
            # Still serving, with the previous (valid) configuration.
            status, body = d.get_json("/readyz")
            self.assertEqual(status, 200)
            self.assertIsNone(d.proc.poll())
            status, _, data = d.request("GET", "/metrics")
            self.assertIn('omnitrail_config_reloads_total{result="rejected"} 1', data.decode())
            self.assertIn('omnitrail_config_reloads_total{result="applied"} 1', data.decode())

    def test_reload_reports_restart_required(self):
        with Daemon(MINIMAL_CONFIG) as d:
            mark = len(d.messages)
            d.write_config(MINIMAL_CONFIG.replace("127.0.0.1:0", "127.0.0.1:1"))
            d.signal(signal.SIGHUP)
            d.wait_for("READY=1", start=mark + 1)
            self.assertIn("restart required", d.last_status())
            self.assertIn("server.listen changed: restart required", d.log())
            # The old listener still answers.
            self.assertEqual(d.get_json("/healthz")[0], 200)

    def test_watchdog_pings(self):
        with Daemon(MINIMAL_CONFIG, extra_env={"WATCHDOG_USEC": "200000"}) as d:
            d.wait_for("WATCHDOG=1", timeout=5)

    def test_sigterm_exits_zero_within_bound(self):
        with Daemon(MINIMAL_CONFIG) as d:
            # An idle keep-alive connection and a half-sent request must not hold the stop up.
            idle = socket.create_connection((d.host, d.port))
            idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            idle.recv(4096)
            partial = socket.create_connection((d.host, d.port))
            partial.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            time.sleep(0.2)
            started = time.monotonic()
            d.signal(signal.SIGTERM)
            d.wait_for("STOPPING=1")
            code = d.wait_exit(timeout=10)
            elapsed = time.monotonic() - started
            self.assertEqual(code, 0, d.log())
            self.assertLess(elapsed, 3 + 5, "shutdown_timeout is 3s; the hard bound is 5s more")
            idle.close()
            partial.close()

    def test_sigterm_lets_request_in_flight_finish(self):
        with Daemon(MINIMAL_CONFIG) as d:
            conn = d.connection()
            conn.request("GET", "/readyz")
            resp = conn.getresponse()
            resp.read()
            d.signal(signal.SIGTERM)
            d.wait_for("STOPPING=1")
            self.assertEqual(d.wait_exit(timeout=10), 0)
            self.assertIn("stopped", d.log())

    def test_store_failure_exits_nonzero(self):
        d = Daemon(MINIMAL_CONFIG.replace("state/omnitrail.db", "/dev/null/omnitrail.db"))
        try:
            d.start(wait_ready=False)
            self.assertNotEqual(d.wait_exit(timeout=20), 0)
            self.assertIn("cannot open the store at /dev/null/omnitrail.db", d.log())
            self.assertFalse(any(m == "READY=1" for m in d.messages))
        finally:
            d.__exit__(None, None, None)

    def test_listen_failure_exits_nonzero(self):
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        try:
            d = Daemon(MINIMAL_CONFIG.replace("127.0.0.1:0", "127.0.0.1:%d" % port))
            try:
                d.start(wait_ready=False)
                code = d.wait_exit(timeout=20)
                self.assertNotEqual(code, 0)
                self.assertIn("cannot listen on 127.0.0.1:%d" % port, d.log())
                self.assertFalse(any(m == "READY=1" for m in d.messages))
            finally:
                d.__exit__(None, None, None)
        finally:
            blocker.close()


if __name__ == "__main__":
    main()
