#!/usr/bin/python3
"""A fake GitHub REST API on 127.0.0.1 for q's tests (stdlib only).

    fake-github.py [--token TOKEN] [--port PORT]

Listens on two free ports of 127.0.0.1 (MAIN is PORT when given) and prints "PORT MAIN OTHER" on
standard output once both are ready.  MAIN is the API; OTHER stands for
another host (a redirect's target) and only records what reaches it.

The API keeps repositories, issues, comments and labels in memory and
checks every request as GitHub does: a User-Agent (403 without), the
token (401 "Requires authentication" without, "Bad credentials" when
wrong), a known X-GitHub-Api-Version (400), no trailing slash (404),
Content-Length on a POST, PUT or PATCH, bodiless ones too (411).
Every response carries x-ratelimit-* headers from a budget; a request
past it gets 403 "API rate limit exceeded" with remaining 0.  Lists are
paginated with Link headers.  An issue can be locked (PUT and DELETE
/repos/O/R/issues/N/lock, no body).  Repository "missing" answers 404, "gone"
410 (issues disabled).

Control endpoints (no checks, never logged):
  GET  /_fake/log        the requests seen, oldest first (never a token:
                         "auth" is "ok", "bad" or "none"; "t" when it came,
                         "dur" the seconds the fake took over it)
  GET  /_fake/other      what reached OTHER (with the Authorization header
                         it carried, if any, to prove none did)
  GET  /_fake/state      every repository, issue and comment
  GET  /_fake/stats      {"max_inflight_writes": N}
  POST /_fake/faults     append scripted faults (a JSON list); each is
                         used by the first request it matches:
        {"method": "POST", "path": REGEX, "times": 1, "kind": KIND, ...}
        kind "status": answer "status" with {"message": "message"} and
                  "headers", without doing anything ("commit": true: do
                  the request first, then answer the status)
        kind "hang_after_commit": do the request, then say nothing for
                  "seconds" and close (the client times out)
        kind "reset_after_commit": do the request, then reset the connection
        kind "reset": reset the connection without doing anything
        kind "secondary": 403 (or "status") "You have exceeded a secondary
                  rate limit", with retry-after when "retry_after" is set
        kind "primary": 403 (or "status") with remaining 0 and a reset
                  "reset_in" seconds ahead, which the budget then keeps
        kind "redirect": "status" (301) to OTHER's same path, or "to"
        kind "delay": wait "seconds", then answer as usual
  POST /_fake/ratelimit  {"limit": N, "remaining": N, "reset_in": SECS}
  POST /_fake/seed       {"repo": "o/r", "issues": [{"title":..., "body":...,
                         "pull_request": bool}, ...]}: issues made out of band
"""
import json
import re
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

VERSIONS = {"2022-11-28", "2026-03-10"}
LOCK = threading.Lock()
TOKEN = None
MAIN = OTHER = None
repos = {}
log = []
other_log = []
faults = []
stats = {"inflight_writes": 0, "max_inflight_writes": 0}
budget = {"limit": 5000, "remaining": 5000, "reset": int(time.time()) + 3600}


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def parse_time(s):
    s = s.replace("Z", "")
    s = s.split(".")[0]
    return time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%S")) - time.timezone


def repo(name):
    if name not in repos:
        repos[name] = {"next": 1, "issues": {}, "next_comment": 1000}
    return repos[name]


def new_issue(name, data, pr=False):
    r = repo(name)
    n = r["next"]
    r["next"] += 1
    now = time.time()
    issue = {
        "id": 100000 + n, "node_id": "I_%d" % n, "number": n,
        "title": data.get("title"), "body": data.get("body"),
        "state": "open", "state_reason": None, "locked": False,
        "labels": [{"name": l} for l in data.get("labels", [])],
        "assignees": [{"login": a} for a in data.get("assignees", [])],
        "user": {"login": "q-test"}, "comments": 0,
        "created_at": iso(now), "updated_at": iso(now),
        "html_url": "https://github.example/%s/issues/%d" % (name, n),
        "url": "http://127.0.0.1:%d/repos/%s/issues/%d" % (MAIN, name, n),
        "_comments": [], "_created": now, "_updated": now,
    }
    if pr:
        issue["pull_request"] = {"url": issue["url"]}
    r["issues"][n] = issue
    return issue


def public(obj):
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def take_fault(method, path):
    with LOCK:
        for f in faults:
            if f.get("method", method) == method and re.search(f.get("path", ""), path):
                f["times"] = f.get("times", 1) - 1
                if f["times"] <= 0:
                    faults.remove(f)
                return dict(f)
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-github/1"

    def log_message(self, *args):
        pass

    # --- plumbing ---------------------------------------------------

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, status, obj=None, headers=None, raw=None):
        data = raw if raw is not None else (b"" if obj is None else json.dumps(obj).encode())
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)
        self.status = status

    def reset(self):
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def ratelimit_headers(self, spend):
        with LOCK:
            now = int(time.time())
            if now >= budget["reset"]:
                budget["remaining"] = budget["limit"]
                budget["reset"] = now + 3600
            if spend and budget["remaining"] > 0:
                budget["remaining"] -= 1
            return {
                "x-ratelimit-limit": budget["limit"],
                "x-ratelimit-remaining": budget["remaining"],
                "x-ratelimit-used": budget["limit"] - budget["remaining"],
                "x-ratelimit-reset": budget["reset"],
                "x-ratelimit-resource": "core",
            }

    # --- dispatch ---------------------------------------------------

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PATCH(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def handle_any(self):
        raw = self.body()
        if self.server.server_address[1] == OTHER:
            with LOCK:
                other_log.append({"method": self.command, "path": self.path,
                                  "authorization": self.headers.get("Authorization")})
            return self.send(200, {"other": True})
        if self.path.startswith("/_fake/"):
            return self.control(raw)
        entry = {"t": time.time(), "method": self.command, "path": self.path,
                 "user_agent": self.headers.get("User-Agent"),
                 "accept": self.headers.get("Accept"),
                 "version": self.headers.get("X-GitHub-Api-Version"),
                 "content_type": self.headers.get("Content-Type"),
                 "auth": "none", "body": None, "status": None, "fault": None}
        auth = self.headers.get("Authorization")
        if auth:
            entry["auth"] = "ok" if TOKEN and auth == "Bearer " + TOKEN else "bad"
        try:
            entry["body"] = json.loads(raw) if raw else None
        except ValueError:
            entry["body"] = raw.decode("utf-8", "replace")
        with LOCK:
            log.append(entry)
        write = self.command != "GET"
        if write:
            with LOCK:
                stats["inflight_writes"] += 1
                stats["max_inflight_writes"] = max(stats["max_inflight_writes"],
                                                   stats["inflight_writes"])
        self.status = None
        try:
            self.api(entry, raw)
        finally:
            if write:
                with LOCK:
                    stats["inflight_writes"] -= 1
            entry["status"] = self.status
            entry["dur"] = time.time() - entry["t"]

    def control(self, raw):
        what = self.path[len("/_fake/"):]
        with LOCK:
            if what == "log":
                return self.send(200, log)
            if what == "other":
                return self.send(200, other_log)
            if what == "stats":
                return self.send(200, {"max_inflight_writes": stats["max_inflight_writes"]})
            if what == "state":
                out = {}
                for name, r in repos.items():
                    out[name] = [dict(public(i), comments_list=[public(c) for c in i["_comments"]])
                                 for _, i in sorted(r["issues"].items())]
                return self.send(200, out)
            data = json.loads(raw or b"null")
            if what == "faults":
                faults.extend(data)
                return self.send(200, {"faults": len(faults)})
            if what == "ratelimit":
                budget["limit"] = data.get("limit", budget["limit"])
                budget["remaining"] = data.get("remaining", budget["remaining"])
                if "reset_in" in data:
                    budget["reset"] = int(time.time()) + data["reset_in"]
                return self.send(200, budget)
            if what == "seed":
                made = [new_issue(data["repo"], i, i.get("pull_request", False))["number"]
                        for i in data["issues"]]
                return self.send(200, made)
        return self.send(404, {"message": "no such control"})

    # --- the API ----------------------------------------------------

    def api(self, entry, raw):
        if not self.headers.get("User-Agent"):
            return self.send(403, {"message": "Request forbidden by administrative rules. "
                                   "Please make sure your request has a User-Agent header"})
        if self.headers.get("X-GitHub-Api-Version", "2022-11-28") not in VERSIONS:
            return self.send(400, {"message": "Invalid API version"})
        if self.command in ("POST", "PUT", "PATCH") and self.headers.get("Content-Length") is None:
            return self.send(411, {"message": "Length Required"})
        if TOKEN and entry["auth"] != "ok":
            msg = "Requires authentication" if entry["auth"] == "none" else "Bad credentials"
            return self.send(401, {"message": msg,
                                   "documentation_url": "https://docs.github.com/rest"})
        fault = take_fault(self.command, self.path)
        if fault:
            entry["fault"] = fault["kind"]
            kind = fault["kind"]
            if kind == "reset":
                return self.reset()
            if kind == "delay":
                time.sleep(fault.get("seconds", 1))
            if kind == "status" and not fault.get("commit"):
                return self.send(fault["status"], {"message": fault.get("message", "fault")},
                                 dict(self.ratelimit_headers(True), **fault.get("headers", {})))
            if kind == "secondary":
                h = self.ratelimit_headers(True)
                if fault.get("retry_after") is not None:
                    h["retry-after"] = fault["retry_after"]
                return self.send(fault.get("status", 403), {
                    "message": "You have exceeded a secondary rate limit. Please wait a few "
                               "minutes before you try again."}, h)
            if kind == "primary":
                with LOCK:
                    budget["remaining"] = 0
                    budget["reset"] = int(time.time()) + fault.get("reset_in", 60)
                return self.send(fault.get("status", 403), {
                    "message": "API rate limit exceeded for user ID 1."},
                    self.ratelimit_headers(False))
            if kind == "redirect":
                to = fault.get("to") or "http://127.0.0.1:%d%s" % (OTHER, self.path)
                return self.send(fault.get("status", 301), {"message": "Moved Permanently",
                                                           "url": to}, {"Location": to})
        with LOCK:
            exhausted = budget["remaining"] <= 0 and int(time.time()) < budget["reset"]
        if exhausted:
            return self.send(403, {"message": "API rate limit exceeded for user ID 1."},
                             self.ratelimit_headers(False))
        with LOCK:
            status, obj, extra = self.route(raw)
        if fault and fault["kind"] == "status":
            status, obj = fault["status"], {"message": fault.get("message", "fault")}
        if fault and fault["kind"] == "hang_after_commit":
            time.sleep(fault.get("seconds", 5))
            return self.reset()
        if fault and fault["kind"] == "reset_after_commit":
            return self.reset()
        headers = self.ratelimit_headers(True)
        headers.update(extra)
        self.send(status, obj, headers)

    def route(self, raw):
        u = urlsplit(self.path)
        path, q = u.path, {k: v[-1] for k, v in parse_qs(u.query).items()}
        if path != "/" and path.endswith("/"):
            return 404, {"message": "Not Found"}, {}
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            return 400, {"message": "Problems parsing JSON"}, {}
        if self.command != "GET" and raw and not isinstance(data, dict):
            return 400, {"message": "Body should be a JSON object"}, {}
        if path == "/user":
            return 200, {"login": "q-test", "id": 1}, {}
        m = re.match(r"^/repos/([^/]+/[^/]+)(/.*)?$", path)
        if not m:
            return 404, {"message": "Not Found"}, {}
        name, rest = m.group(1), m.group(2) or ""
        if name.endswith("/missing"):
            return 404, {"message": "Not Found"}, {}
        if name.endswith("/gone"):
            return 410, {"message": "Issues are disabled for this repo"}, {}
        r = repo(name)
        if rest == "/issues":
            if self.command == "POST":
                if not data.get("title"):
                    return 422, {"message": "Validation Failed", "errors": [
                        {"resource": "Issue", "field": "title", "code": "missing_field"}]}, {}
                return 201, public(new_issue(name, data)), {}
            if self.command == "GET":
                items = list(r["issues"].values())
                if q.get("state", "open") != "all":
                    items = [i for i in items if i["state"] == q.get("state", "open")]
                if "since" in q:
                    s = parse_time(q["since"])
                    items = [i for i in items if i["_updated"] >= s - 1]
                items.sort(key=lambda i: i["number"], reverse=q.get("direction", "desc") == "desc")
                return self.page(items, q, path)
        m = re.match(r"^/issues/(\d+)(/.*)?$", rest)
        if not m or int(m.group(1)) not in r["issues"]:
            return 404, {"message": "Not Found"}, {}
        issue, sub = r["issues"][int(m.group(1))], m.group(2) or ""
        now = time.time()
        if sub == "" and self.command == "GET":
            return 200, public(issue), {}
        if sub == "" and self.command == "PATCH":
            for k in ("title", "body"):
                if k in data:
                    issue[k] = data[k]
            if "state" in data:
                if data["state"] not in ("open", "closed"):
                    return 422, {"message": "Validation Failed", "errors": [
                        {"resource": "Issue", "field": "state", "code": "invalid"}]}, {}
                if data["state"] != issue["state"]:
                    issue["state_reason"] = data.get("state_reason", "completed") \
                        if data["state"] == "closed" else "reopened"
                issue["state"] = data["state"]
            if "labels" in data:
                issue["labels"] = [{"name": l} for l in data["labels"]]
            if "assignees" in data:
                issue["assignees"] = [{"login": a} for a in data["assignees"]]
            issue["_updated"], issue["updated_at"] = now, iso(now)
            return 200, public(issue), {}
        if sub == "/comments" and self.command == "POST":
            if not data.get("body"):
                return 422, {"message": "Validation Failed", "errors": [
                    {"resource": "IssueComment", "field": "body", "code": "missing_field"}]}, {}
            r["next_comment"] += 1
            c = {"id": r["next_comment"], "body": data["body"], "user": {"login": "q-test"},
                 "html_url": issue["html_url"] + "#issuecomment-%d" % r["next_comment"],
                 "created_at": iso(now), "updated_at": iso(now), "_updated": now}
            issue["_comments"].append(c)
            issue["comments"] += 1
            issue["_updated"], issue["updated_at"] = now, iso(now)
            return 201, public(c), {}
        if sub == "/comments" and self.command == "GET":
            items = issue["_comments"]
            if "since" in q:
                s = parse_time(q["since"])
                items = [c for c in items if c["_updated"] >= s - 1]
            return self.page(items, q, path)
        if sub == "/labels" and self.command == "POST":
            names = [l["name"] for l in issue["labels"]]
            for l in data.get("labels", []):
                if l not in names:
                    issue["labels"].append({"name": l})
            return 200, issue["labels"], {}
        if sub == "/lock" and self.command in ("PUT", "DELETE"):
            issue["locked"] = self.command == "PUT"
            return 204, None, {}
        m = re.match(r"^/labels/(.+)$", sub)
        if m and self.command == "DELETE":
            label = unquote(m.group(1))
            names = [l["name"] for l in issue["labels"]]
            if label not in names:
                return 404, {"message": "Label does not exist"}, {}
            issue["labels"] = [l for l in issue["labels"] if l["name"] != label]
            return 200, issue["labels"], {}
        return 404, {"message": "Not Found"}, {}

    def page(self, items, q, path):
        per = min(int(q.get("per_page", 30)), 100)
        pg = int(q.get("page", 1))
        last = max(1, (len(items) + per - 1) // per)
        chunk = [public(i) for i in items[(pg - 1) * per:pg * per]]
        links = []
        base = dict(q)

        def url(p):
            base["page"] = str(p)
            return "http://127.0.0.1:%d%s?%s" % (
                MAIN, path, "&".join("%s=%s" % kv for kv in sorted(base.items())))
        if pg < last:
            links.append('<%s>; rel="next"' % url(pg + 1))
            links.append('<%s>; rel="last"' % url(last))
        if pg > 1:
            links.append('<%s>; rel="prev"' % url(pg - 1))
            links.append('<%s>; rel="first"' % url(1))
        return 200, chunk, ({"Link": ", ".join(links)} if links else {})


def main():
    global TOKEN, MAIN, OTHER
    args = sys.argv[1:]
    port = 0
    while args:
        if args[0] == "--token":
            TOKEN = args[1]
        elif args[0] == "--port":
            port = int(args[1])
        args = args[2:]
    ThreadingHTTPServer.daemon_threads = True
    main_srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    other_srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    MAIN, OTHER = main_srv.server_address[1], other_srv.server_address[1]
    threading.Thread(target=other_srv.serve_forever, daemon=True).start()
    print("PORT %d %d" % (MAIN, OTHER), flush=True)
    main_srv.serve_forever()


if __name__ == "__main__":
    main()
