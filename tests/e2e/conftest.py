"""Starts sluice-local on a free loopback port with a fresh data dir for the session."""

import http.server
import os
import pathlib
import sqlite3
import subprocess
import threading
import time
import zlib

import lz4.block
import pytest
import requests

import contract
import secret_scan

# Every server the suite starts, with its data dir: their logs are scanned for secrets
# once the session ends.
STARTED: list = []

ROOT = pathlib.Path(__file__).resolve().parents[2]


def binary(name: str) -> str:
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    path = pathlib.Path(os.environ.get(f"SLUICE_{name.upper().replace('-', '_')}_BIN", target / "debug" / name))
    if not path.exists():
        pytest.fail(f"{path} is missing: build it first (cargo build --bin {name})")
    return str(path)


def have_tool(name: str) -> bool:
    """Whether a command-line tool is installed. With CI=true it must be: a missing one
    fails the test instead of sending it down the "tool missing" branch."""
    import shutil
    found = shutil.which(name) is not None
    if not found and os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required with CI=true (scripts/test installs it)")
    return found


class Sluice:
    def __init__(self, url: str, api_key: str, data_dir: pathlib.Path):
        self.url = url
        self.api_key = api_key
        self.data_dir = data_dir

    def call(self, method, path, ns=None, key=None, **kwargs):
        headers = kwargs.pop("headers", {})
        headers.setdefault("Authorization", f"Bearer {key or self.api_key}")
        if ns is not None:
            headers["X-Namespace"] = ns
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def admin(self, *args) -> str:
        out = subprocess.run(
            [binary("sluice-admin"), "--backend", "local", "--data-dir", str(self.data_dir), *args],
            check=True, capture_output=True, text=True,
        )
        return out.stdout.strip()

    def new_org_key(self, name: str) -> str:
        org = self.admin("create-org", "--name", name)
        return self.admin("create-key", "--org", org)

    def wait_task(self, task_id, key=None, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            task = self.call("GET", f"/v1/tasks/{task_id}", key=key).json()
            if task["status"] in ("COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELED"):
                return task
            time.sleep(0.2)
        raise AssertionError(f"task {task_id} did not finish: {task}")


def start(data_dir: pathlib.Path, extra_env=None):
    env = {**os.environ, "SLUICE_PURGE_SETTLE_SECS": "1", "SLUICE_LOG": "info", **(extra_env or {})}
    env.pop("SLUICE_API_KEY", None)
    proc = subprocess.Popen(
        [binary("sluice-local"), "--port", "0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    url = key = None
    deadline = time.time() + 30
    while time.time() < deadline and not (url and key):
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("SLUICE_URL="):
            url = line.split("=", 1)[1].strip()
        elif line.startswith("SLUICE_API_KEY="):
            key = line.split("=", 1)[1].strip()
    if not (url and key):
        proc.kill()
        raise RuntimeError("sluice-local did not print its URL and key")
    # Read the rest of its output as it comes, so a chatty server never blocks on a
    # full pipe; tests that check the log read proc.log (after proc.drain.join()).
    proc.log = []
    proc.drain = threading.Thread(target=lambda: proc.log.extend(proc.stdout), daemon=True)
    proc.drain.start()
    STARTED.append((proc, data_dir))
    contract.register(url)
    return proc, url, key


class Files:
    """Serves fixed bytes on loopback, as a blob URL would: `files` maps a path to its
    body (others are a 404), `delays` a path to seconds to wait before answering."""

    def __init__(self, files, content_type=None, delays=None):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                time.sleep((delays or {}).get(self.path, 0))
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                if content_type:
                    self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"


def stored_blobs(data_dir, prefix=""):
    """The keys the local blob store holds under `prefix`, read from its database, after
    checking that every file it keeps is one a row names and every named file is there."""
    root = pathlib.Path(data_dir) / "blobs"
    with sqlite3.connect(f"file:{root / 'blobs.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT key, file FROM blobs").fetchall()
    named = {root / f for _, f in rows if f}
    on_disk = {p for p in (root / "files").rglob("*") if p.is_file()} if (root / "files").exists() else set()
    assert on_disk == named, f"files no row names: {on_disk - named}; rows whose file is gone: {named - on_disk}"
    return sorted(k for k, _ in rows if k.startswith(prefix))


DOC_DICTIONARY = (ROOT / "shared/backend-local/src/doc_dictionary.json").read_bytes()


def stored_doc(doc):
    """An item's JSON from sluice.db's `doc` column: text, LZ4 against the store's
    dictionary after a tag byte (0x06) and its length, or raw deflate (earlier versions)."""
    if isinstance(doc, str):
        return doc.encode()
    if doc[:1] == b"\x06":
        size = int.from_bytes(doc[1:5], "little")
        return lz4.block.decompress(doc[5:], uncompressed_size=size, dict=DOC_DICTIONARY)
    return zlib.decompress(doc, -15)


def stored_contents(data_dir):
    """What the data dir holds, as a reader of its files would find it: every file's
    bytes, and each table item's doc, which sluice.db keeps compressed when long (so a
    secret stored in the clear inside one would not show in the file's bytes)."""
    found = [(str(f), f.read_bytes()) for f in pathlib.Path(data_dir).rglob("*") if f.is_file()]
    with sqlite3.connect(f"file:{pathlib.Path(data_dir) / 'sluice.db'}?mode=ro", uri=True) as db:
        for pk, sk, doc in db.execute("SELECT pk, sk, doc FROM items"):
            found.append((f"sluice.db item {pk} {sk}", stored_doc(doc)))
    return found


@pytest.fixture(scope="session")
def sluice(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("sluice-data")
    proc, url, key = start(data_dir)
    try:
        yield Sluice(url, key, data_dir)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def pytest_configure(config):
    contract.install()


def leaked_in_logs() -> list[str]:
    """What the servers' logs show that they should not (see secret_scan.py)."""
    problems = []
    for proc, data_dir in STARTED:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.drain.join(timeout=10)
        problems += [f"{data_dir}: {p}" for p in secret_scan.check_log(proc.log, data_dir)]
    return problems


def pytest_sessionfinish(session, exitstatus):
    """No server logged a secret; with the whole directory run, every declared route must
    have answered a test."""
    leaks = leaked_in_logs()
    lines = sum(len(proc.log) for proc, _ in STARTED)
    session.config.get_terminal_writer().line(
        f"secrets scan: {len(secret_scan.SUBMITTED) + len(secret_scan.REVEALED)} secrets "
        f"against every response and {lines} log lines of {len(STARTED)} servers")
    if leaks:
        session.config.get_terminal_writer().line("secrets in the servers' logs:\n  " + "\n  ".join(leaks[:20]), red=True)
        session.exitstatus = 1
    here = pathlib.Path(__file__).parent
    ran_files = {pathlib.Path(str(item.fspath)).name for item in session.items}
    everything = {p.name for p in here.glob("test_*.py")} <= ran_files
    deselected = session.config.getoption("keyword") or session.config.getoption("markexpr")
    missing = contract.uncovered()
    if missing and exitstatus == 0:
        lines = "\n".join(f"  {m} {t}" for m, t in missing)
        session.config.get_terminal_writer().line(
            f"routes in /openapi.json no e2e test received a 2xx from:\n{lines}", red=True)
        if everything and not deselected:
            session.exitstatus = 1
