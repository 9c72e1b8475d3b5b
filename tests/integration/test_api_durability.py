"""Crash safety and erasure against the real binary and its SQLite file on disk:
- a burst of POST /interactions, SIGKILL mid-burst, restart: every 2xx is present, none twice;
- erase + VACUUM: the database file holds none of the customer's identifiers or texts."""
import json
import os
import signal
import sqlite3
import threading
import time
import unittest

from harness import ADMIN, AGENT, API_CONFIG, API_FILES, Daemon, call, interaction, main


class Durability(unittest.TestCase):
    def test_sigkill_mid_burst_loses_and_duplicates_nothing(self):
        d = Daemon(API_CONFIG, files=API_FILES).start()
        try:
            acknowledged = {}  # external_id -> interaction_id
            lock = threading.Lock()
            stop = threading.Event()

            def writer(worker):
                n = 0
                while not stop.is_set():
                    n += 1
                    ext = "burst-%d-%d" % (worker, n)
                    try:
                        status, body = interaction(d, [("phone", "+4420794%05d" % (worker * 1000 + n % 1000), "claimed")],
                                                   "phone", external_id=ext, text="burst %s" % ext)
                    except OSError:
                        return  # the daemon is gone
                    if status in (200, 201):
                        with lock:
                            acknowledged[ext] = body["interaction_id"]

            threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with lock:
                    if len(acknowledged) >= 200:
                        break
                time.sleep(0.05)
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait(10)
            stop.set()
            for t in threads:
                t.join(30)
            self.assertGreaterEqual(len(acknowledged), 50, "too few requests answered before the kill")

            # Restart on the same files.
            d.messages.clear()
            d.start()
            for ext, interaction_id in acknowledged.items():
                status, body = call(d, "GET", "/api/v1/interactions/" + interaction_id, token=AGENT)
                self.assertEqual(status, 200, (ext, body))
                self.assertEqual(body["external_id"], ext)
            # Replaying every acknowledged request is a duplicate with the same id.
            for ext in list(acknowledged)[:100]:
                status, body = interaction(d, [("phone", "+442079400000", "claimed")], "phone", external_id=ext)
                self.assertEqual(status, 200, body)
                self.assertTrue(body["duplicate"])
                self.assertEqual(body["interaction_id"], acknowledged[ext])
            d.signal(signal.SIGTERM)
            self.assertEqual(d.wait_exit(15), 0)
            db = sqlite3.connect(os.path.join(d.path, "state", "omnitrail.db"))
            dupes = db.execute("SELECT source, external_id, COUNT(*) FROM interactions "
                               "GROUP BY source, external_id HAVING COUNT(*) > 1").fetchall()
            self.assertEqual(dupes, [])
            stored = {r[0] for r in db.execute("SELECT external_id FROM interactions WHERE external_id LIKE 'burst-%'")}
            self.assertTrue(set(acknowledged) <= stored)
            db.close()
        finally:
            d.__exit__(None, None, None)

    def test_erase_and_vacuum_leave_no_trace(self):
        secrets = ["+44 20 7946 0622", "+442079460622", "erase.me.please@example.org", "Zebulon Q. Erasable",
                   "my secret account number is 99887766"]
        d = Daemon(API_CONFIG, files=API_FILES).start()
        try:
            status, a = interaction(d, [("phone", secrets[0], "claimed"), ("email", secrets[2], "claimed")], "phone",
                                    display_name=secrets[3], text=secrets[4])
            self.assertEqual(status, 201, a)
            status, _ = interaction(d, [("email", secrets[2], "claimed")], "email", text=secrets[4] + " again",
                                    subject="Re: " + secrets[3])
            self.assertEqual(status, 201)
            status, _ = call(d, "PATCH", "/api/v1/customers/" + a["customer_id"],
                             {"attributes": {"note": secrets[4]}}, token=AGENT)
            self.assertEqual(status, 200)
            # Another customer's data stays.
            status, other = interaction(d, [("phone", "+44 20 7946 0623", "claimed")], "phone", text="keep me")
            self.assertEqual(status, 201)
            status, body = call(d, "DELETE", "/api/v1/customers/" + a["customer_id"])
            self.assertEqual(status, 200, body)
            status, _ = call(d, "GET", "/api/v1/customers/" + other["customer_id"], token=AGENT)
            self.assertEqual(status, 200)
            d.signal(signal.SIGTERM)
            self.assertEqual(d.wait_exit(15), 0)
            path = os.path.join(d.path, "state", "omnitrail.db")
            db = sqlite3.connect(path)
            db.execute("VACUUM")
            audit = db.execute("SELECT COUNT(*) FROM audit WHERE action LIKE '%erase%'").fetchone()[0]
            self.assertGreaterEqual(audit, 1)
            db.close()
            blob = b""
            for suffix in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(path + suffix):
                    with open(path + suffix, "rb") as f:
                        blob += f.read()
            for s in secrets + ["99887766", "erase.me.please", "Zebulon"]:
                self.assertNotIn(s.encode(), blob, "found %r in the database files" % s)
            self.assertIn(b"keep me", blob)
        finally:
            d.__exit__(None, None, None)


if __name__ == "__main__":
    main()
