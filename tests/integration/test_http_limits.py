"""Hostile HTTP clients against the real binary: malformed request lines, huge headers, bodies
over the limit, slowloris, connection floods. The daemon must answer 4xx/close and keep serving."""
import socket
import time
import unittest

from harness import Daemon, MINIMAL_CONFIG, main

CONFIG = MINIMAL_CONFIG.replace("    read_timeout: 2s", """    read_timeout: 2s
    max_header_bytes: 8KiB
    max_body_bytes: 64KiB
    max_connections: 20""")


def status_of(reply):
    line = reply.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


class HttpLimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(CONFIG).start()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.__exit__(None, None, None)

    def assert_alive(self):
        self.assertIsNone(self.daemon.proc.poll(), self.daemon.log())
        self.assertEqual(self.daemon.get_json("/healthz")[0], 200)

    def test_bad_request_lines(self):
        for payload in [b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                        b"\x00\x01\x02\xff\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                        b"GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]:
            reply = self.daemon.raw(payload)
            self.assertEqual(status_of(reply), 400, (payload, reply[:200]))
            self.assertIn(b'"error"', reply)
        self.assert_alive()

    def test_one_mib_header(self):
        payload = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1024 * 1024) + b"\r\n\r\n"
        try:
            reply = self.daemon.raw(payload)
        except (ConnectionResetError, BrokenPipeError):
            reply = b""
        if reply:
            self.assertEqual(status_of(reply), 431)
        self.assert_alive()

    def test_header_just_over_limit_gets_431(self):
        payload = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (9 * 1024) + b"\r\n\r\n"
        reply = self.daemon.raw(payload)
        self.assertEqual(status_of(reply), 431, reply[:200])
        self.assert_alive()

    def test_body_over_limit(self):
        status, _, data = self.daemon.request("POST", "/healthz", body=b"x" * (65 * 1024),
                                              headers={"Content-Type": "application/json"})
        self.assertEqual(status, 413, data)
        self.assertIn(b"max_body_bytes", data)
        self.assert_alive()

    def test_unknown_route_and_method(self):
        status, _, data = self.daemon.request("GET", "/nope")
        self.assertEqual(status, 404)
        self.assertIn(b'"code":"not_found"', data)
        status, headers, data = self.daemon.request("DELETE", "/healthz")
        self.assertEqual(status, 405)
        self.assertEqual(headers.get("allow"), "GET")
        status, headers, data = self.daemon.request("HEAD", "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(data, b"")
        self.assertGreater(int(headers["content-length"]), 0)

    def test_slowloris_is_cut_off(self):
        s = socket.create_connection((self.daemon.host, self.daemon.port), timeout=10)
        started = time.monotonic()
        closed = False
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\n")
            for _ in range(20):
                time.sleep(0.5)
                s.sendall(b"X-A: b\r\n")
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        if not closed:
            try:
                data = s.recv(4096)
                closed = True
                if data:
                    self.assertEqual(status_of(data), 408)
            except socket.timeout:
                pass
        s.close()
        self.assertTrue(closed, "the server kept a slowloris connection open")
        self.assertLess(time.monotonic() - started, 9)
        self.assert_alive()

    def test_connection_limit(self):
        held = []
        try:
            for _ in range(20):
                held.append(socket.create_connection((self.daemon.host, self.daemon.port)))
            time.sleep(0.3)
            reply = self.daemon.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(status_of(reply), 503, reply[:200])
            self.assertIn(b"too many connections", reply)
        finally:
            for s in held:
                s.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            reply = self.daemon.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if status_of(reply) == 200:
                break
            time.sleep(0.1)
        self.assertEqual(status_of(reply), 200)

    def test_keep_alive_serves_many_requests(self):
        conn = self.daemon.connection()
        for _ in range(50):
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            resp.read()
        conn.close()

    def test_random_bytes_never_crash(self):
        import random
        rng = random.Random(1234)
        for _ in range(100):
            payload = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
            try:
                self.daemon.raw(payload + b"\r\n\r\n", read_timeout=3)
            except (ConnectionResetError, BrokenPipeError):
                pass
        self.assert_alive()


if __name__ == "__main__":
    main()
