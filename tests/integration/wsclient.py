"""A minimal WebSocket client (RFC 6455) on the standard library, for tests: text frames,
masking, ping/pong, close codes. Not for production use."""
import base64
import json
import os
import socket
import struct
import time


class Closed(Exception):
    def __init__(self, code, reason):
        super().__init__("closed %s %r" % (code, reason))
        self.code = code
        self.reason = reason


class WebSocket:
    def __init__(self, host, port, path, headers=None, timeout=10, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port), "Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("connection closed during the handshake")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        self.status = int(head.split(b" ")[1])
        self.handshake = head.decode("latin-1")
        self.closed = None

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed(1006, "connection dropped")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def send_frame(self, opcode, payload):
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send(self, obj):
        self.send_frame(0x1, (obj if isinstance(obj, str) else json.dumps(obj)).encode())

    def recv_frame(self):
        """One frame as (opcode, payload); data fragments are joined into one message."""
        opcode, fin, payload = self._frame()
        if opcode in (0x1, 0x2):
            while not fin:
                op, fin, more = self._frame()
                if op == 0x9:
                    self.send_frame(0xA, more)
                    fin = False
                    continue
                payload += more
        return opcode, payload

    def _frame(self):
        b1, b2 = self._read(2)
        fin = bool(b1 & 0x80)
        opcode = b1 & 0x0F
        n = b2 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        return opcode, fin, self._read(n)

    def recv(self, timeout=10):
        """The next text message as JSON; answers pings; raises Closed on a close frame."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no message within %ss" % timeout)
            self.sock.settimeout(left)
            opcode, payload = self.recv_frame()
            if opcode == 0x9:
                self.send_frame(0xA, payload)
            elif opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.closed = (code, payload[2:].decode("utf-8", "replace"))
                try:
                    self.send_frame(0x8, payload[:2])
                except OSError:
                    pass
                raise Closed(*self.closed)
            elif opcode == 0x1:
                return json.loads(payload.decode("utf-8"))

    def recv_until(self, predicate, timeout=10):
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            msg = self.recv(max(0.01, deadline - time.monotonic()))
            seen.append(msg)
            if predicate(msg):
                return msg

    def expect_silence(self, seconds=1.0):
        """Asserts no text message arrives within `seconds`; returns any that did (for messages)."""
        try:
            msg = self.recv(seconds)
            return msg
        except socket.timeout:
            return None

    def close(self):
        try:
            self.send_frame(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()
