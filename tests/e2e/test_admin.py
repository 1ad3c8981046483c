"""sluice-admin against the AWS backend (moto, started by scripts/test)."""

import os
import subprocess

import pytest

from conftest import binary


@pytest.mark.skipif("AWS_ENDPOINT_URL" not in os.environ, reason="needs moto (scripts/test starts it)")
def test_admin_on_aws_backend():
    admin = binary("sluice-admin")
    out = subprocess.run([admin, "provision", "--prefix", "admin-e2e"], capture_output=True, text=True, check=True).stdout
    names = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert {"SLUICE_TABLE", "SLUICE_BUCKET", "SLUICE_EVENT_BUS", "SLUICE_TASKS_QUEUE_URL"} <= set(names)
    env = dict(os.environ, **names)
    run = lambda *args: subprocess.run([admin, "--backend", "aws", *args], capture_output=True, text=True, env=env, check=True).stdout.strip()
    org = run("create-org", "--name", "acme")
    assert org.startswith("org_")
    key = run("create-key", "--org", org, "--name", "ci")
    assert key.startswith("sk_")
    listed = run("list-keys", "--org", org)
    assert key[:7] in listed and key not in listed  # a hint, never the key
    key_id = next(l for l in listed.splitlines() if '"key_id"' in l).split('"key_id":"')[1].split('"')[0]
    assert run("revoke-key", "--org", org, "--key-id", key_id) == f"revoked {key_id}"
    assert run("list-keys", "--org", org) == ""
