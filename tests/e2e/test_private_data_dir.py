"""sluice-local's data dir holds the presigning key, the credential key, the dev key and
every tenant's data: the dir is made 0700 and those files 0600, and a start over a dir
others can read warns, or with --strict (SLUICE_STRICT) refuses."""

import os
import stat
import subprocess

from conftest import binary, start


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_secrets_are_private_and_exposure_is_refused_when_strict(tmp_path):
    data = tmp_path / "data"
    proc, _, _ = start(data)
    proc.terminate()
    proc.wait(timeout=10)
    assert mode(data) == 0o700
    for f in ["sluice.db", "vectors.db", "credentials.key", "dev-api-key", "blobs/signing.key", "blobs/blobs.db"]:
        assert mode(data / f) == 0o600, f
    os.chmod(data / "blobs" / "signing.key", 0o644)
    env = {**os.environ, "SLUICE_STRICT": "true", "RUST_BACKTRACE": "0"}
    refused = subprocess.run([binary("sluice-local"), "--port", "0", "--data-dir", str(data)],
                             capture_output=True, text=True, env=env, timeout=30)
    assert refused.returncode != 0
    assert "signing.key (644)" in refused.stderr and "--strict" in refused.stderr, refused.stderr
    env.pop("SLUICE_STRICT")
    # Without --strict it serves, having warned: run it for a few seconds and read what it said.
    try:
        ran = subprocess.run([binary("sluice-local"), "--port", "0", "--data-dir", str(data)],
                             capture_output=True, text=True, env=env, timeout=5)
        said = ran.stderr
    except subprocess.TimeoutExpired as still_running:
        said = (still_running.stderr or b"").decode() if isinstance(still_running.stderr, bytes) else still_running.stderr or ""
    assert "warning: others can read" in said and "signing.key (644)" in said, said
