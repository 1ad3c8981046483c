"""A secrets scan over every response and log line the end-to-end suite produces.

Secrets are learnt as the suite goes:
- every string a request sends inside a `credentials` object (except its `type` and an
  Azure `account_name`, which every blob URL carries): a
  connection's credentials are sealed, and only their type is ever returned;
- every webhook `signing_secret` a response shows: it is shown once, by the response
  that created it, and never again;
- every API key a request sends as its bearer token: no response or log line names one
  (the dev key's start-up line excepted, which is how a user learns it);
- the data dir's key files (`credentials.key`, `blobs/signing.key`), raw, hex or base64.

`observe` checks each response as it arrives (a leak fails the test that received it);
`check_log` checks a server's output once it has stopped.
"""

import base64
import json
import pathlib
import re

SHORTEST = 8  # shorter strings ("AK", "test") would match by chance
SUBMITTED: set[str] = set()
# Shown once, by the response that revealed it (learnt after that response is checked).
REVEALED: set[str] = set()
API_KEY = re.compile(r"\bsk_[A-Za-z0-9_-]{16,}")
DEV_KEY_LINE = "SLUICE_API_KEY="


# Credential fields that name something public: an Azure storage account's name is the
# host of its every URL (`{account}.blob.core.windows.net`, or an emulator's path).
PUBLIC_FIELDS = {"type", "account_name"}


def _credential_values(value, inside=False):
    if isinstance(value, dict):
        for k, v in value.items():
            if inside and k in PUBLIC_FIELDS:
                continue
            yield from _credential_values(v, inside or k == "credentials")
    elif isinstance(value, list):
        for v in value:
            yield from _credential_values(v, inside)
    elif inside and isinstance(value, str) and len(value) >= SHORTEST:
        yield value


def learn_request(headers, body):
    auth = (headers or {}).get("Authorization", "")
    if auth.startswith("Bearer ") and len(auth) > 7 + SHORTEST:
        SUBMITTED.add(auth[7:])
    try:
        sent = json.loads(body) if body else None
        SUBMITTED.update(_credential_values(sent))
    except (TypeError, ValueError, UnicodeDecodeError, RecursionError):
        return  # not JSON, or deeper than Python reads: no credentials it could know


def _leaks(text: str, secrets) -> list[str]:
    return [s for s in secrets if s in text]


def observe(method: str, path: str, status: int, body: bytes):
    """Fails when a response shows a secret it may not; learns the secrets it reveals."""
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else str(body or "")
    leaked = _leaks(text, SUBMITTED | REVEALED)
    if leaked:
        raise AssertionError(f"{method} {path} → {status} shows a secret: {_masked(leaked)}")
    if 200 <= status < 300 and "signing_secret" in text:
        try:
            data = json.loads(text)
        except ValueError:
            return
        secret = data.get("signing_secret") if isinstance(data, dict) else None
        if isinstance(secret, str):
            REVEALED.add(secret)


def key_files(data_dir) -> list[str]:
    """The data dir's keys in every form a log line might carry them."""
    forms = []
    for name in ("credentials.key", "blobs/signing.key"):
        path = pathlib.Path(data_dir) / name
        if not path.is_file():
            continue
        raw = path.read_bytes()
        forms += [raw.hex(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")]
        try:
            forms.append(raw.decode("ascii"))
        except UnicodeDecodeError:
            pass
    return [f for f in forms if len(f) >= SHORTEST]


def check_log(lines, data_dir=None) -> list[str]:
    """What in a server's output should not be there: one message per line that leaks."""
    secrets = SUBMITTED | REVEALED | set(key_files(data_dir) if data_dir else [])
    problems = []
    for n, line in enumerate(lines, 1):
        if line.startswith(DEV_KEY_LINE):
            continue
        leaked = _leaks(line, secrets) + API_KEY.findall(line)
        if leaked:
            problems.append(f"log line {n} shows a secret: {_masked(leaked)}")
    return problems


def _masked(secrets) -> str:
    return ", ".join(sorted({s[:4] + "…" for s in secrets}))
