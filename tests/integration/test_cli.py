"""The command line of the real binary: --version, --check-config on the shipped configs and on
broken ones (every error as file:line:col: path: message, exit 78), usage errors (exit 64)."""
import glob
import os
import re
import subprocess
import tempfile
import unittest

from harness import OMNITRAILD, SOURCE_DIR, main, require_binary


def run(*args, env=None):
    require_binary()
    return subprocess.run([OMNITRAILD, *args], capture_output=True, text=True, timeout=30, env=env)


class CliTest(unittest.TestCase):
    def test_version(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^omnitraild \d+\.\d+\.\d+\n$")

    def test_unknown_argument_is_usage_error(self):
        r = run("--frobnicate")
        self.assertEqual(r.returncode, 64)
        self.assertIn('unknown argument "--frobnicate"', r.stderr)
        self.assertIn("usage:", r.stderr)

    def test_shipped_configs_are_valid(self):
        configs = [os.path.join(SOURCE_DIR, "config", "omnitrail.yaml"),
                   os.path.join(SOURCE_DIR, "systemd", "omnitrail.packaged.yaml")]
        configs += sorted(glob.glob(os.path.join(SOURCE_DIR, "config", "examples", "*.yaml")))
        self.assertGreaterEqual(len(configs), 3)
        for path in configs:
            r = run("--check-config", "--config", path)
            self.assertEqual(r.returncode, 0, "%s:\n%s" % (path, r.stderr))
            self.assertIn("configuration is valid", r.stdout)

    def check_bad(self, text, expected, env=None):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "omnitrail.yaml")
            with open(path, "w") as f:
                f.write(text)
            full_env = dict(os.environ)
            full_env.update(env or {})
            r = run("--check-config", "--config", path, env=full_env)
            self.assertEqual(r.returncode, 78, r.stdout + r.stderr)
            lines = [l for l in r.stderr.splitlines() if l.startswith(path + ":")]
            self.assertTrue(lines, r.stderr)
            for line in lines:
                self.assertRegex(line, r"^%s:\d+:\d+: [^:]+: .+" % re.escape(path))
            for pattern in expected:
                self.assertTrue(any(re.search(pattern, l) for l in lines), "%r not in %r" % (pattern, lines))
            return r.stderr

    def test_unknown_key_with_suggestion(self):
        self.check_bad("server:\n  listne: ['127.0.0.1:1']\n", [r":2:3: server\.listne: .*did you mean \"listen\""])

    def test_bad_type_and_duration(self):
        self.check_bad("server:\n  limits:\n    read_timeout: 5x\n    max_connections: many\n",
                       [r":3:19: server\.limits\.read_timeout: .*\"5x\"", r":4:22: server\.limits\.max_connections: "])

    def test_missing_required_and_duplicate(self):
        text = ("agents:\n"
                "  - id: a1\n    name: Ann\n    token_file: t\n"
                "  - id: a1\n    name: Bob\n    token_file: t2\n"
                "  - name: NoId\n    token_file: t3\n")
        stderr = self.check_bad(text, [r"agents\[1\]\.id: .*duplicate", r"agents\[2\]: .*\bid\b"])
        self.assertNotIn("Traceback", stderr)

    def test_inline_secret_is_refused_and_never_echoed(self):
        stderr = self.check_bad("agents:\n  - id: a1\n    name: Ann\n    token: s3cr3t-value-xyz\n",
                                [r"agents\[0\]\.token: "])
        self.assertNotIn("s3cr3t-value-xyz", stderr)

    def test_every_error_is_reported(self):
        stderr = self.check_bad("server:\n  listne: x\nstorage:\n  synchronous: sometimes\nlogging:\n  level: loud\n",
                                [r"server\.listne", r"storage\.synchronous", r"logging\.level"])
        self.assertIn("3 error(s)", stderr)

    def test_missing_file(self):
        r = run("--check-config", "--config", "/nonexistent/omnitrail.yaml")
        self.assertEqual(r.returncode, 78)
        self.assertIn("/nonexistent/omnitrail.yaml", r.stderr)


if __name__ == "__main__":
    main()
