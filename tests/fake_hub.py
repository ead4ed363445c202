"""A small Hugging Face Hub stand-in on 127.0.0.1: the endpoints that push and pull use, in memory.

Implemented: create a repository, validate a model card's YAML, pre-upload (binary files are "lfs",
the rest "regular", i.e. inline in the commit), the basic Git LFS transfer (batch, PUT, verify),
commit (NDJSON with base64 files and LFS pointers), repository info, tree listing, and file
download (HEAD and GET on /{repo}/resolve/{revision}/{path}). Not implemented: the Xet protocol
that huggingface_hub prefers for LFS files when hf_xet is installed; tests turn it off
(``huggingface_hub.constants.HF_HUB_DISABLE_XET``), so the library takes the basic LFS path. Every request is recorded in ``requests``
so tests can check what was sent. Write requests need an ``Authorization: Bearer`` header.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse


LFS_SUFFIXES = (".safetensors", ".onnx", ".pt", ".png", ".bin")  # as the Hub's default .gitattributes


class Repo:
    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.commits: list[str] = []

    @property
    def sha(self) -> str:
        return self.commits[-1] if self.commits else "0" * 40


class FakeHub:
    def __init__(self):
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.model_cards: list[dict] = []
        self.lfs: dict[str, bytes] = {}  # sha256 -> content of uploaded LFS objects  # front matter of each README.md validated
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

            def _error(self, code: int, message: str, head: bool = False):
                kind = {404: "RepoNotFound" if "Repository" in message else "EntryNotFound"}.get(code)
                self._send(code, {"error": message}, headers={"X-Error-Code": kind} if kind else None, head=head)

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
                        return self._send(409, {"error": "You already created this model repo", "url": f"{hub.url}/{repo_id}"})
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
                        repo.files[v["path"]] = base64.b64decode(content) if v.get("encoding") == "base64" else content.encode()
                    elif item["key"] == "lfsFile":
                        oid = item["value"]["oid"]
                        if oid not in hub.lfs:
                            return self._send(400, {"error": f"LFS object {oid} was never uploaded"})
                        repo.files[item["value"]["path"]] = hub.lfs[oid]
                    elif item["key"] == "deletedFile":
                        repo.files.pop(item["value"]["path"], None)
                sha = hashlib.sha1(json.dumps(sorted((k, hashlib.sha1(v).hexdigest()) for k, v in repo.files.items())).encode()
                                   + str(len(repo.commits)).encode()).hexdigest()
                repo.commits.append(sha)
                return self._send(200, {"commitUrl": f"{hub.url}/{m.group(1)}/commit/{sha}", "commitOid": sha,
                                        "pullRequestUrl": None})

            def _get(self, head: bool):
                parsed = urlparse(self.path)
                path = unquote(parsed.path)
                hub.requests.append(("HEAD" if head else "GET", path))
                m = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path)
                if m:
                    repo = hub.repos.get(m.group(1))
                    if repo is None:
                        return self._error(404, "Repository not found", head)
                    return self._send(200, {"id": m.group(1), "modelId": m.group(1), "sha": repo.sha, "private": False,
                                            "siblings": [{"rfilename": f} for f in sorted(repo.files)], "tags": [],
                                            "downloads": 0, "likes": 0}, head=head)
                m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?", path)
                if m:
                    repo = hub.repos.get(m.group(1))
                    if repo is None:
                        return self._error(404, "Repository not found", head)
                    entries = [{"type": "file", "path": f, "size": len(b), "oid": hashlib.sha1(b).hexdigest()}
                               for f, b in sorted(repo.files.items())]
                    return self._send(200, entries, head=head)
                m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
                if m:
                    repo = hub.repos.get(m.group(1))
                    if repo is None:
                        return self._error(404, "Repository not found", head)
                    data = repo.files.get(m.group(3))
                    if data is None:
                        return self._error(404, "Entry not found", head)
                    etag = f'"{hashlib.sha1(data).hexdigest()}"'
                    return self._send(200, raw=data, head=head, headers={"ETag": etag, "X-Repo-Commit": repo.sha})
                return self._error(404, f"no such endpoint {path}", head)

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

    def __enter__(self) -> "FakeHub":
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
