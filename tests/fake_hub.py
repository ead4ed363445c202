"""A small Hugging Face Hub stand-in on 127.0.0.1: the endpoints that push and pull use, in memory.

Implemented: create a repository, validate a model card's YAML, pre-upload (binary files are "lfs",
the rest "regular", i.e. inline in the commit), the basic Git LFS transfer (batch, PUT, verify),
commit (NDJSON with base64 files and LFS pointers), repository info, tree listing, and file
download (HEAD and GET on /{repo}/resolve/{revision}/{path}); for the ``hf:`` data source the same
reads of data-set repositories (``datasets``: /api/datasets/..., /datasets/{repo}/resolve/...),
other revisions (``Repo.refs``, e.g. the Parquet export ``refs/convert/parquet``) and gated
repositories (``Repo(gated=True)``: reads need a token). Not implemented: the Xet protocol
that huggingface_hub prefers for LFS files when hf_xet is installed; tests turn it off
(``huggingface_hub.constants.HF_HUB_DISABLE_XET``), so the library takes the basic LFS path. Every request is recorded
in ``requests`` so tests can check what was sent. Write requests need an ``Authorization: Bearer`` header.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse


def isolate_hub(monkeypatch, home: Path) -> None:
    """huggingface_hub without a saved login or token, telemetry or the user's cache (all under ``home``),
    and with the basic LFS protocol instead of Xet."""
    import huggingface_hub.constants as constants

    monkeypatch.setenv("HF_HOME", str(home))
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    for name, value in (("HF_HUB_DISABLE_XET", True), ("HF_HUB_DOWNLOAD_TIMEOUT", 5),
                        ("HF_HUB_CACHE", str(home / "hub")),
                        ("HF_TOKEN_PATH", str(home / "token")), ("HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))):
        monkeypatch.setattr(constants, name, value, raising=False)


LFS_SUFFIXES = (".safetensors", ".onnx", ".pt", ".png", ".bin")  # as the Hub's default .gitattributes


class Repo:
    """A repository's files at its last commit; ``Repo(files)`` commits them."""

    def __init__(self, files: dict[str, bytes] | None = None, *, gated: bool = False):
        self.files: dict[str, bytes] = dict(files or {})
        self.commits: list[str] = []
        self.refs: dict[str, Repo] = {}  # other revisions by name, e.g. "refs/convert/parquet"
        self.gated = gated               # reading needs a token (any Bearer token)
        if files:
            self.commit()

    @property
    def sha(self) -> str:
        return self.commits[-1] if self.commits else "0" * 40

    def commit(self) -> str:
        sha = hashlib.sha1(json.dumps(sorted((k, hashlib.sha1(v).hexdigest()) for k, v in self.files.items())).encode()
                           + str(len(self.commits)).encode()).hexdigest()
        self.commits.append(sha)
        return sha

    def at(self, revision: str) -> Repo | None:
        """The repository at a branch name or commit (``main``: this one), or None."""
        if revision in ("main", self.sha) or revision in self.commits:
            return self
        return next((r for name, r in self.refs.items() if revision == name or r.at(revision) is r), None)


class FakeHub:
    def __init__(self):
        self.repos: dict[str, Repo] = {}     # model repositories
        self.datasets: dict[str, Repo] = {}  # data-set repositories
        self.requests: list[tuple[str, str]] = []
        self.model_cards: list[dict] = []
        # sha256 -> content of uploaded LFS objects  # front matter of each README.md validated
        self.lfs: dict[str, bytes] = {}
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", ""):
                    chunks = []
                    while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    self.rfile.readline()
                    return b"".join(chunks)
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _send(self, code: int, payload=None, raw: bytes | None = None, headers: dict | None = None,
                      head: bool = False):
                data = raw if raw is not None else json.dumps(payload if payload is not None else {}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json" if raw is None else "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if not head:
                    self.wfile.write(data)

            def _error(self, code: int, message: str, head: bool = False, kind: str | None = None):
                kind = kind or {404: "RepoNotFound" if "Repository" in message else "EntryNotFound"}.get(code)
                self._send(code, {"error": message}, headers={"X-Error-Code": kind} if kind else None, head=head)

            def _repo(self, kind: str | None, repo_id: str, revision: str, head: bool) -> Repo | None:
                """The repository at ``revision``, or None once the Hub's error has been sent."""
                repo = (hub.datasets if kind == "datasets" else hub.repos).get(repo_id)
                if repo is None:
                    return self._error(404, "Repository not found", head)
                if repo.gated and not self._authorised():
                    return self._error(401, f"Access to dataset {repo_id} is restricted. You must be authenticated "
                                            "to access it.", head, kind="GatedRepo")
                at = repo.at(revision)
                if at is None:
                    return self._error(404, f"Invalid rev id: {revision}", head, kind="RevisionNotFound")
                return at

            def _authorised(self) -> bool:
                return self.headers.get("Authorization", "").startswith("Bearer ")

            def do_POST(self):
                path = urlparse(self.path).path
                hub.requests.append(("POST", path))
                body = self._body()
                if not self._authorised():
                    return self._send(401, {"error": "Invalid credentials in Authorization header"})
                if path == "/api/validate-yaml":  # the README's front matter must be a YAML mapping
                    import yaml

                    content = json.loads(body)["content"]
                    head = content.split("---", 2)[1] if content.startswith("---") else ""
                    try:
                        meta = yaml.safe_load(head)
                    except yaml.YAMLError as e:
                        return self._send(400, {"errors": [{"message": f"invalid YAML: {e}"}]})
                    if not isinstance(meta, dict):
                        return self._send(400, {"errors": [{"message": "metadata is not a mapping"}]})
                    hub.model_cards.append(meta)
                    return self._send(200, {"warnings": []})
                m = re.fullmatch(r"/([^/]+/[^/]+)\.git/info/lfs/objects/batch", path)
                if m:
                    objects = []
                    for o in json.loads(body)["objects"]:
                        entry = {"oid": o["oid"], "size": o["size"]}
                        if o["oid"] not in hub.lfs:
                            entry["actions"] = {"upload": {"href": f"{hub.url}/lfs-upload/{o['oid']}"},
                                                "verify": {"href": f"{hub.url}/lfs-verify"}}
                        objects.append(entry)
                    return self._send(200, {"transfer": "basic", "objects": objects})
                if path == "/lfs-verify":
                    o = json.loads(body)
                    ok = o["oid"] in hub.lfs and len(hub.lfs[o["oid"]]) == o["size"]
                    return self._send(200 if ok else 404, {} if ok else {"error": "object not uploaded"})
                if path == "/api/repos/create":
                    spec = json.loads(body)
                    repo_id = f"{spec['organization']}/{spec['name']}" if spec.get("organization") else spec["name"]
                    if repo_id in hub.repos:
                        return self._send(409,
                                          {"error": "You already created this model repo",
                                           "url": f"{hub.url}/{repo_id}"})
                    hub.repos[repo_id] = Repo()
                    return self._send(200, {"url": f"{hub.url}/{repo_id}", "name": repo_id})
                m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/(preupload|commit)/(.+)", path)
                if not m or m.group(1) not in hub.repos:
                    return self._error(404, "Repository not found")
                repo = hub.repos[m.group(1)]
                if m.group(2) == "preupload":
                    files = json.loads(body)["files"]
                    return self._send(200, {"files": [
                        {"path": f["path"], "uploadMode": "lfs" if f["path"].endswith(LFS_SUFFIXES) else "regular",
                         "shouldIgnore": False, "oid": None} for f in files], "commitOid": repo.sha})
                for line in body.decode().splitlines():
                    if not line.strip():
                        continue
                    item = json.loads(line)
                    if item["key"] == "file":
                        v = item["value"]
                        content = v["content"]
                        base64_encoded = v.get("encoding") == "base64"
                        repo.files[v["path"]] = base64.b64decode(content) if base64_encoded else content.encode()
                    elif item["key"] == "lfsFile":
                        oid = item["value"]["oid"]
                        if oid not in hub.lfs:
                            return self._send(400, {"error": f"LFS object {oid} was never uploaded"})
                        repo.files[item["value"]["path"]] = hub.lfs[oid]
                    elif item["key"] == "deletedFile":
                        repo.files.pop(item["value"]["path"], None)
                sha = repo.commit()
                return self._send(200, {"commitUrl": f"{hub.url}/{m.group(1)}/commit/{sha}", "commitOid": sha,
                                        "pullRequestUrl": None})

            def _get(self, head: bool):
                raw = urlparse(self.path).path  # matched before unquoting: a revision may hold a quoted "/"
                hub.requests.append(("HEAD" if head else "GET", unquote(raw)))
                m = re.fullmatch(r"/api/(models|datasets)/([^/]+/[^/]+)(?:/revision/([^/]+))?", raw)
                if m:
                    repo_id = unquote(m.group(2))
                    repo = self._repo(m.group(1), repo_id, unquote(m.group(3) or "main"), head)
                    if repo is None:
                        return
                    ids = {"modelId": repo_id} if m.group(1) == "models" else {}
                    return self._send(200, {"id": repo_id, **ids, "sha": repo.sha, "private": False,
                                            "siblings": [{"rfilename": f} for f in sorted(repo.files)], "tags": [],
                                            "downloads": 0, "likes": 0}, head=head)
                m = re.fullmatch(r"/api/(models|datasets)/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?", raw)
                if m:
                    repo = self._repo(m.group(1), unquote(m.group(2)), unquote(m.group(3)), head)
                    if repo is None:
                        return
                    entries = [{"type": "file", "path": f, "size": len(b), "oid": hashlib.sha1(b).hexdigest()}
                               for f, b in sorted(repo.files.items())]
                    return self._send(200, entries, head=head)
                m = re.fullmatch(r"(?:/(datasets))?/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", raw)
                if m:
                    repo = self._repo(m.group(1), unquote(m.group(2)), unquote(m.group(3)), head)
                    if repo is None:
                        return
                    data = repo.files.get(unquote(m.group(4)))
                    if data is None:
                        return self._error(404, "Entry not found", head)
                    etag = f'"{hashlib.sha1(data).hexdigest()}"'
                    return self._send(200, raw=data, head=head, headers={"ETag": etag, "X-Repo-Commit": repo.sha})
                return self._error(404, f"no such endpoint {unquote(raw)}", head)

            def do_PUT(self):  # the LFS upload URL handed out by the batch endpoint
                path = urlparse(self.path).path
                hub.requests.append(("PUT", path))
                body = self._body()
                m = re.fullmatch(r"/lfs-upload/([0-9a-f]{64})", path)
                if not m or hashlib.sha256(body).hexdigest() != m.group(1):
                    return self._send(400, {"error": "content does not match its sha256"})
                hub.lfs[m.group(1)] = body
                return self._send(200, {})

            def do_GET(self):
                self._get(head=False)

            def do_HEAD(self):
                self._get(head=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
