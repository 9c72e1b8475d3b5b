"""The shipped systemd unit: `systemd-analyze verify` is clean and the offline security rating
is OK or better."""
import os
import re
import subprocess
import tempfile
import unittest

from harness import OMNITRAILD, SOURCE_DIR, main


class SystemdUnitTest(unittest.TestCase):
    def unit_copy(self, tmp):
        with open(os.path.join(SOURCE_DIR, "systemd", "omnitraild.service")) as f:
            text = f.read()
        # verify checks that ExecStart exists: point it at the binary under test.
        text = text.replace("/usr/sbin/omnitraild", OMNITRAILD)
        path = os.path.join(tmp, "omnitraild.service")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_verify_is_clean(self):
        with tempfile.TemporaryDirectory() as tmp:
            unit = self.unit_copy(tmp)
            r = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertNotIn("omnitraild.service:", r.stderr, r.stderr)

    def test_security_rating_ok_or_better(self):
        with tempfile.TemporaryDirectory() as tmp:
            unit = self.unit_copy(tmp)
            r = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", unit],
                               capture_output=True, text=True)
            m = re.search(r"Overall exposure level for omnitraild\.service: ([0-9.]+) (\w+)", r.stdout + r.stderr)
            self.assertIsNotNone(m, r.stdout + r.stderr)
            self.assertIn(m.group(2), ("SAFE", "OK"), m.group(0))
            self.assertLessEqual(float(m.group(1)), 4.9)

    def test_unit_declares_the_contract(self):
        with open(os.path.join(SOURCE_DIR, "systemd", "omnitraild.service")) as f:
            text = f.read()
        for line in ["Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "User=omnitrail",
                     "StateDirectory=omnitrail", "ConfigurationDirectory=omnitrail", "NoNewPrivileges=yes",
                     "ProtectSystem=strict", "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service",
                     "LimitNOFILE="]:
            self.assertIn(line, text)
        self.assertRegex(text, r"WatchdogSec=\d+")


if __name__ == "__main__":
    main()
