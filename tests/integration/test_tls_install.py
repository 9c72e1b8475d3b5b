"""TLS on the listener (server.tls with a self-signed certificate made by openssl), and
`cmake --install` placing the binary, unit, sysusers, tmpfiles and the default config."""
import os
import ssl
import subprocess
import tempfile
import unittest
import http.client

from harness import Daemon, MINIMAL_CONFIG, main

BUILD_DIR = os.environ.get("OMNITRAIL_BUILD_DIR", "")


class TlsTest(unittest.TestCase):
    def test_https_listener(self):
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                            "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
                           check=True, capture_output=True)
            os.chmod(key, 0o600)
            config = MINIMAL_CONFIG.replace("server:\n", "server:\n  tls:\n    cert_file: %s\n    key_file: %s\n" % (cert, key))
            with Daemon(config) as d:
                self.assertIn("listening on https://", d.last_status())
                context = ssl.create_default_context(cafile=cert)
                conn = http.client.HTTPSConnection(d.host, d.port, context=context, timeout=10)
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                self.assertEqual(resp.status, 200)
                self.assertIn(b"alive", resp.read())
                conn.close()
                # Plain HTTP on the TLS port is refused without harming the daemon.
                reply = d.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", read_timeout=3)
                self.assertNotIn(b"alive", reply)
                conn = http.client.HTTPSConnection(d.host, d.port, context=context, timeout=10)
                conn.request("GET", "/readyz")
                self.assertEqual(conn.getresponse().status, 200)

    def test_unreadable_key_fails_start(self):
        config = MINIMAL_CONFIG.replace("server:\n", "server:\n  tls:\n    cert_file: /nonexistent/c.pem\n    key_file: /nonexistent/k.pem\n")
        d = Daemon(config)
        try:
            d.start(wait_ready=False)
            code = d.wait_exit(20)
            self.assertNotEqual(code, 0)
            self.assertIn("/nonexistent/", d.log())
        finally:
            d.__exit__(None, None, None)


class InstallTest(unittest.TestCase):
    def test_cmake_install_places_everything(self):
        self.assertTrue(BUILD_DIR, "OMNITRAIL_BUILD_DIR is set by ctest")
        with tempfile.TemporaryDirectory() as dest:
            env = dict(os.environ, DESTDIR=dest)
            r = subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix", "/usr"], env=env, capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            for path in ["usr/sbin/omnitraild", "usr/lib/systemd/system/omnitraild.service",
                         "usr/lib/sysusers.d/omnitrail.conf", "usr/lib/tmpfiles.d/omnitrail.conf",
                         "etc/omnitrail/omnitrail.yaml", "usr/share/omnitrail/omnitrail.schema.json"]:
                self.assertTrue(os.path.exists(os.path.join(dest, path)), path)
            binary = os.path.join(dest, "usr/sbin/omnitraild")
            r = subprocess.run([binary, "--check-config", "--config", os.path.join(dest, "etc/omnitrail/omnitrail.yaml")],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_cpack_builds_a_deb(self):
        with tempfile.TemporaryDirectory() as out:
            r = subprocess.run(["cpack", "-G", "DEB", "-B", out, "--config", os.path.join(BUILD_DIR, "CPackConfig.cmake")],
                               capture_output=True, text=True, cwd=BUILD_DIR)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            debs = [f for f in os.listdir(out) if f.endswith(".deb")]
            self.assertEqual(len(debs), 1, os.listdir(out))
            deb = os.path.join(out, debs[0])
            listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True, check=True).stdout
            for path in ["./usr/sbin/omnitraild", "./usr/lib/systemd/system/omnitraild.service",
                         "./usr/lib/sysusers.d/omnitrail.conf", "./etc/omnitrail/omnitrail.yaml"]:
                self.assertIn(path, listing)
            info = subprocess.run(["dpkg-deb", "-I", deb], capture_output=True, text=True, check=True).stdout
            self.assertIn("Package: omnitrail", info)
            self.assertIn("postinst", info)
            self.assertIn("libphonenumber", info)


if __name__ == "__main__":
    main()
