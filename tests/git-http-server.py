#!/usr/bin/python3
"""git-http-server.py: a smart-HTTP git server on 127.0.0.1 for the tests.

    git-http-server.py ROOT [--port N] [--token TOKEN] [--control DIR] [--log FILE]

Serves the repositories under ROOT through git http-backend (CGI), with
responses streamed in chunked encoding, and prints "PORT n" on standard
output once it listens (--port 0, the default, picks a free port).
Paths under /private/ need HTTP Basic authentication with TOKEN as the
password and any user name, as GitHub takes a token (and may push:
REMOTE_USER is set); the others are anonymous and read-only.

Files in the control directory change what it does, for as long as they
exist:
    503      every request is answered 503 Service Unavailable
    stall    a fetch's pack stops after its first bytes: the server stops
             answering mid-transfer, and goes on when the file goes

Every request is logged to FILE as one line: METHOD PATH STATUS.
Standard library only; started by the tests with /usr/bin/python3.
"""
import argparse
import base64
import os
import socketserver
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

BACKEND = "/usr/lib/git-core/git-http-backend"


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a client that went away (a killed job) is nothing to report


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def note(self, status):
        if self.server.log:
            with self.server.log_lock, open(self.server.log, "a") as f:
                f.write("%s %s %d\n" % (self.command, self.path, status))

    def control(self, name):
        return self.server.control and os.path.exists(os.path.join(self.server.control, name))

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, status, text, extra=()):
        data = text.encode()
        self.send_response(status)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.note(status)

    def do_GET(self):
        self.serve()

    def do_POST(self):
        self.serve()

    def serve(self):
        body = self.body() if self.command == "POST" else b""
        path, _, query = self.path.partition("?")
        user = None
        if self.control("503"):
            self.reply(503, "try again later\n")
            return
        if path.startswith("/private/"):
            path = path[len("/private"):]
            auth = self.headers.get("Authorization", "")
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                user = password = ""
            if not auth.startswith("Basic ") or not self.server.token or password != self.server.token:
                self.reply(401, "authentication required\n",
                           [("WWW-Authenticate", 'Basic realm="q-test"')])
                return
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": self.server.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": os.environ.get("HOME", "/"),
        }
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        if user:
            env["REMOTE_USER"] = user
        proc = subprocess.Popen([BACKEND], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        threading.Thread(target=self.feed, args=(proc, body), daemon=True).start()
        status, headers = 200, []
        while True:
            line = proc.stdout.readline().rstrip(b"\r\n")
            if not line:
                break
            k, _, v = line.decode("latin-1").partition(":")
            if k.lower() == "status":
                status = int(v.split()[0])
            else:
                headers.append((k, v.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        stall = self.command == "POST" and path.endswith("/git-upload-pack") and self.control("stall")
        try:
            while True:
                data = proc.stdout.read1(65536)
                if not data:
                    break
                if stall:
                    # A few bytes, then nothing while the file is there.
                    head = data[:64]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(head), head))
                    self.wfile.flush()
                    while self.control("stall"):
                        time.sleep(0.05)
                    data, stall = data[len(head):], False
                if data:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        proc.stdout.close()
        proc.kill()
        proc.wait()
        self.note(status)

    @staticmethod
    def feed(proc, body):
        try:
            proc.stdin.write(body)
            proc.stdin.close()
        except BrokenPipeError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--token", default="")
    ap.add_argument("--control", default="")
    ap.add_argument("--log", default="")
    a = ap.parse_args()
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.root, srv.token, srv.control, srv.log = os.path.abspath(a.root), a.token, a.control, a.log
    srv.log_lock = threading.Lock()
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
