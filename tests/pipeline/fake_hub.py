"""A loopback fake of the Hugging Face Hub HTTP API, for publish tests.

It implements the endpoints ``huggingface_hub`` 2.x calls to create a repo and
commit files (read from its source: ``hf_api.py``, ``_commit_api.py``, ``lfs.py``):

    POST /api/repos/create                                  create_repo
    GET  /api/{type}s/{repo}[/revision/{rev}]               repo_info
    GET  /api/{type}s/{repo}/tree/{rev}[/{path}]            list_repo_files (delete_patterns)
    POST /api/{type}s/{repo}/branch/{branch}                create_branch
    POST /api/{type}s/{repo}/preupload/{rev}                upload mode per file
    POST /api/{type}s/{repo}/commit/{rev}                   NDJSON commit
    POST /api/validate-yaml                                 README metadata check
    POST /{type}s/{repo}.git/info/lfs/objects/batch         legacy LFS batch (xet disabled)
    PUT  /_lfs/{oid}                                        LFS object upload

Files are "regular" (inlined base64 in the commit) unless ``lfs_suffixes`` says
otherwise; LFS mode is only usable with xet disabled in the client, since the
fake does not speak the xet CAS protocol. It listens on 127.0.0.1 only, counts
requests and refuses any beyond ``max_requests``, so a runaway retry loop fails
the test instead of spinning.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

_NAME_RE = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}$")


def git_blob_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    branches: dict[str, dict[str, bytes]] = field(default_factory=lambda: {"main": {}})
    commits: list[dict] = field(default_factory=list)
    lfs_paths: set[str] = field(default_factory=set)

    def head(self, branch: str) -> str:
        for commit in reversed(self.commits):
            if commit["branch"] == branch:
                return commit["oid"]
        return hashlib.sha1(f"{self.repo_id}@{branch}".encode()).hexdigest()


@dataclass
class Failure:
    method: str
    path_regex: str
    status: int
    times: int


class FakeHub:
    """Start with ``with FakeHub(token="hf_x") as hub:``; ``hub.endpoint`` is the base URL."""

    def __init__(self, token: str, *, max_requests: int = 200, lfs_suffixes: tuple[str, ...] = ()):
        self.token = token
        self.max_requests = max_requests
        self.lfs_suffixes = lfs_suffixes
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self.auth_headers: list[str | None] = []
        self._failures: list[Failure] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------

    def __enter__(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- test controls ------------------------------------------------------

    def fail_next(self, method: str, path_regex: str, status: int = 500, times: int = 1) -> None:
        """Answer the next ``times`` matching requests with ``status`` (and an error body)."""
        self._failures.append(Failure(method, path_regex, status, times))

    def files(self, repo_id: str, branch: str = "main", repo_type: str = "dataset") -> dict[str, bytes]:
        return dict(self.repos[(repo_type, repo_id)].branches[branch])

    def count(self, method: str, path_regex: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and re.search(path_regex, p))

    def _take_failure(self, method: str, path: str) -> int | None:
        for failure in self._failures:
            if failure.times > 0 and failure.method == method and re.search(failure.path_regex, path):
                failure.times -= 1
                return failure.status
        return None


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        pass  # keep test output clean

    # -- plumbing -------------------------------------------------------------

    def _reply(self, status: int, body=None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
        with self.fake._lock:
            method, path, _ = self.fake.requests[self._index]
            self.fake.requests[self._index] = (method, path, status)

    def _error(self, status: int, message: str, code: str | None = None) -> None:
        self._reply(status, {"error": message}, {"X-Error-Code": code} if code else None)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authorized(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {self.fake.token}"

    def _dispatch(self, method: str) -> None:
        url = urlparse(self.path)
        path = unquote(url.path)
        query = parse_qs(url.query)
        body = self._body()
        fake = self.fake
        with fake._lock:
            self._index = len(fake.requests)
            fake.requests.append((method, path, 0))
            fake.auth_headers.append(self.headers.get("Authorization"))
            over = len(fake.requests) > fake.max_requests
            injected = fake._take_failure(method, path)
        if over:
            return self._error(429, f"fake hub: more than {fake.max_requests} requests")
        if injected is not None:
            return self._error(injected, f"injected HTTP {injected}")
        for route_method, pattern, handler in _ROUTES:
            if route_method != method:
                continue
            match = re.fullmatch(pattern, path)
            if match:
                return handler(self, body=body, query=query, **match.groupdict())
        return self._error(404, f"fake hub: no route for {method} {path}")

    def do_GET(self):  # noqa: N802
        self._dispatch("GET")

    def do_POST(self):  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self):  # noqa: N802
        self._dispatch("PUT")

    # -- endpoints ------------------------------------------------------------

    def _repo(self, repo_type: str, repo_id: str) -> Repo | None:
        repo = self.fake.repos.get((repo_type, repo_id))
        if repo is None or (repo.private and not self._authorized()):
            self._error(404, f"Repository Not Found for url: {self.path}.", "RepoNotFound")
            return None
        return repo

    def create_repo(self, body: bytes, query) -> None:
        if not self._authorized():
            return self._error(401, "Invalid credentials in Authorization header")
        payload = json.loads(body)
        org, name = payload.get("organization"), payload.get("name", "")
        if not org or not _NAME_RE.match(org) or not _NAME_RE.match(name) or "--" in name:
            return self._error(400, f"Invalid repo name: {org}/{name}")
        repo_type = payload.get("type") or "model"
        key = (repo_type, f"{org}/{name}")
        url = f"{self.fake.endpoint}/{repo_type}s/{org}/{name}"
        if key in self.fake.repos:  # the Hub's 409 body carries the url, which create_repo returns
            return self._reply(409, {"error": "You already created this dataset repo", "url": url})
        self.fake.repos[key] = Repo(repo_type, key[1], private=payload.get("visibility") == "private")
        return self._reply(200, {"url": url, "name": key[1]})

    def repo_info(self, body: bytes, query, repo_type: str, repo_id: str, rev: str | None = None) -> None:
        repo = self._repo(repo_type, repo_id)
        if repo is None:
            return None
        branch = rev or "main"
        if branch not in repo.branches:
            return self._error(404, f"Invalid rev id: {branch}", "RevisionNotFound")
        siblings = [{"rfilename": p} for p in sorted(repo.branches[branch])]
        return self._reply(200, {"id": repo_id, "sha": repo.head(branch), "private": repo.private,
                                 "siblings": siblings, "tags": []})

    def tree(self, body: bytes, query, repo_type: str, repo_id: str, rev: str, sub: str | None = None) -> None:
        repo = self._repo(repo_type, repo_id)
        if repo is None:
            return None
        if rev not in repo.branches:
            return self._error(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        prefix = (sub or "").strip("/")
        entries = [
            {"type": "file", "path": p, "size": len(c), "oid": git_blob_oid(c)}
            for p, c in sorted(repo.branches[rev].items())
            if not prefix or p.startswith(prefix + "/")
        ]
        return self._reply(200, entries)

    def create_branch(self, body: bytes, query, repo_type: str, repo_id: str, branch: str) -> None:
        if not self._authorized():
            return self._error(401, "Invalid credentials in Authorization header")
        repo = self._repo(repo_type, repo_id)
        if repo is None:
            return None
        if branch in repo.branches:
            return self._error(409, f"Reference already exists: {branch}")
        repo.branches[branch] = dict(repo.branches["main"])
        return self._reply(200, {})

    def validate_yaml(self, body: bytes, query) -> None:
        return self._reply(200, {"errors": [], "warnings": []})

    def preupload(self, body: bytes, query, repo_type: str, repo_id: str, rev: str) -> None:
        if not self._authorized():
            return self._error(401, "Invalid credentials in Authorization header")
        repo = self._repo(repo_type, repo_id)
        if repo is None:
            return None
        current = repo.branches.get(rev, {})
        files = []
        for item in json.loads(body)["files"]:
            lfs = item["path"].endswith(self.fake.lfs_suffixes) if self.fake.lfs_suffixes else False
            existing = current.get(item["path"])
            oid = None
            if existing is not None:
                oid = hashlib.sha256(existing).hexdigest() if lfs else git_blob_oid(existing)
            files.append({"path": item["path"], "uploadMode": "lfs" if lfs else "regular",
                          "shouldIgnore": False, "oid": oid})
        return self._reply(200, {"files": files})

    def commit(self, body: bytes, query, repo_type: str, repo_id: str, rev: str) -> None:
        if not self._authorized():
            return self._error(401, "Invalid credentials in Authorization header")
        repo = self._repo(repo_type, repo_id)
        if repo is None:
            return None
        if rev not in repo.branches:
            return self._error(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        files = dict(repo.branches[rev])
        summary = ""
        ops: list[tuple[str, str]] = []
        for line in body.splitlines():
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key != "header":
                ops.append((key, value["path"]))
            if key == "header":
                summary = value["summary"]
            elif key == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "lfsFile":
                content = self.fake.lfs_objects.get(value["oid"])
                if content is None:
                    return self._error(400, f"LFS object {value['oid']} was never uploaded")
                files[value["path"]] = content
                repo.lfs_paths.add(value["path"])
            elif key == "deletedFile":
                if files.pop(value["path"], None) is None:
                    return self._error(404, "A file with this name doesn't exist", "EntryNotFound")
            elif key == "deletedFolder":
                files = {p: c for p, c in files.items() if not p.startswith(value["path"].rstrip("/") + "/")}
            else:
                return self._error(400, f"unknown commit operation {key!r}")
        oid = hashlib.sha1(body + repo.head(rev).encode()).hexdigest()
        repo.branches[rev] = files
        repo.commits.append({"oid": oid, "branch": rev, "summary": summary, "ops": ops})
        url = f"{self.fake.endpoint}/{repo_type}s/{repo_id}/commit/{oid}"
        return self._reply(200, {"commitUrl": url, "commitOid": oid, "pullRequestUrl": None})

    def lfs_batch(self, body: bytes, query, repo_type: str, repo_id: str) -> None:
        if not self._authorized():
            return self._error(401, "Invalid credentials in Authorization header")
        payload = json.loads(body)
        objects = []
        for obj in payload["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"]}
            if obj["oid"] not in self.fake.lfs_objects:
                entry["actions"] = {"upload": {"href": f"{self.fake.endpoint}/_lfs/{obj['oid']}"}}
            objects.append(entry)
        return self._reply(200, {"transfer": "basic", "objects": objects})

    def lfs_put(self, body: bytes, query, oid: str) -> None:
        if hashlib.sha256(body).hexdigest() != oid:
            return self._error(400, "sha256 mismatch")
        self.fake.lfs_objects[oid] = body
        return self._reply(200, None)


_REPO = r"(?P<repo_type>dataset|model|space)s/(?P<repo_id>[^/]+/[^/]+?)"
_ROUTES = [
    ("POST", r"/api/repos/create", _Handler.create_repo),
    ("POST", r"/api/validate-yaml", _Handler.validate_yaml),
    ("GET", rf"/api/{_REPO}/tree/(?P<rev>[^/]+)(?P<sub>/.*)?", _Handler.tree),
    ("GET", rf"/api/{_REPO}(?:/revision/(?P<rev>[^/]+))?", _Handler.repo_info),
    ("POST", rf"/api/{_REPO}/branch/(?P<branch>[^/]+)", _Handler.create_branch),
    ("POST", rf"/api/{_REPO}/preupload/(?P<rev>[^/]+)", _Handler.preupload),
    ("POST", rf"/api/{_REPO}/commit/(?P<rev>[^/]+)", _Handler.commit),
    ("POST", rf"/{_REPO}\.git/info/lfs/objects/batch", _Handler.lfs_batch),
    ("PUT", r"/_lfs/(?P<oid>[0-9a-f]{64})", _Handler.lfs_put),
]
