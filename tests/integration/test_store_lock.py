"""One omnitraild per database: a second daemon pointed at the same SQLite file refuses to start
(it would run the same connectors and deliver the same webhooks twice) and says why; once the
first has stopped, the second starts on the same file."""
import signal
import unittest

from harness import API_CONFIG, API_FILES, Daemon, call, interaction, main


class StoreLock(unittest.TestCase):
    def test_second_daemon_on_the_same_database_is_refused(self):
        first = Daemon(API_CONFIG, files=API_FILES).start()
        second = None
        try:
            status, body = interaction(first, [("phone", "+44 20 7946 0707", "claimed")])
            self.assertEqual(status, 201, body)
            second = Daemon(API_CONFIG, files=API_FILES)
            # Same working directory, same relative sqlite_path: the same file.
            second.path, second.config_path = first.path, first.config_path
            second.stderr_path = first.path + "/stderr-second.log"
            second.start(wait_ready=False)
            self.assertEqual(second.wait_exit(20), 1)
            log = open(second.stderr_path, encoding="utf-8", errors="replace").read()
            self.assertIn("another omnitraild", log)
            self.assertIn("omnitrail.db.lock", log)
            # The first one is unaffected.
            self.assertEqual(call(first, "GET", "/readyz", token=None)[0], 200)
            first.signal(signal.SIGTERM)
            self.assertEqual(first.wait_exit(20), 0)
            second.messages.clear()
            second.start()
            self.assertEqual(call(second, "GET", "/readyz", token=None)[0], 200)
            second.signal(signal.SIGTERM)
            self.assertEqual(second.wait_exit(20), 0)
        finally:
            if second is not None:
                second.__exit__(None, None, None)
            first.__exit__(None, None, None)


if __name__ == "__main__":
    main()
