"""Every response a test receives from sluice-local is checked against /openapi.json,
and against the `mixpeek` SDK's model for that route's response.

Both HTTP clients the tests use are observed: `requests` (hand-written calls) and the
`mixpeek` SDK's urllib3 client. A 2xx body must match its route's declared 200 schema,
any 4xx/5xx body the error envelope. A 2xx body must also load into the response model
the SDK's generated method for that method and path declares: that is how every enum
value Sluice emits (task types, statuses, ...) is checked against the SDK's enums, which
raise on a value they do not know. A mismatch fails the test that made the call, as does a response that shows a secret
(see secret_scan.py). When
the whole e2e directory runs, every route in the document must have had a validated 2xx.
"""

import functools
import json
import pathlib
import re
import urllib.parse

import jsonschema
import requests

import secret_scan

SERVERS: set[str] = set()
_DOCUMENT = None
# The components with each list row held to its whole view: a request without `select`
# must get whole rows, though the document also allows selected ones.
_WHOLE_ROWS = None
_ROUTES = []  # (method, regex, template, schema)
COVERED: set[tuple[str, str]] = set()


def _load(base_url: str):
    global _DOCUMENT, _WHOLE_ROWS
    doc = requests.get(base_url + "/openapi.json", timeout=10).json()
    _DOCUMENT = doc
    _WHOLE_ROWS = {**doc["components"], "schemas": {
        name: (schema["anyOf"][0] if name.startswith("Selectable_") else schema)
        for name, schema in doc["components"]["schemas"].items()}}
    jsonschema.Draft202012Validator.check_schema({"components": doc["components"]})
    for template, ops in doc["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^/]+\\\}", "[^/]+", re.escape(template)) + "/?$"
        for method, op in ops.items():
            ok = next(code for code in op["responses"] if code.startswith("2"))
            schema = op["responses"][ok]["content"]["application/json"]["schema"]
            _ROUTES.append((method.upper(), re.compile(pattern), template, schema))
    # Literal segments first: /v1/batches/list before /v1/batches/{batch_id}.
    _ROUTES.sort(key=lambda r: r[2].count("{"))


def _template_shape(template: str) -> str:
    """A path template with its parameter names left out: `/v1/tasks/{}`."""
    return re.sub(r"\{[^/]+\}", "{}", template.rstrip("/"))


# Any text up to the next method of the class: a match stays inside one `def`.
_WITHIN_DEF = r"(?:(?!\n    def ).)*?"


@functools.cache
def sdk_response_models() -> dict:
    """(METHOD, template shape) → the SDK model its generated method loads a 200 into,
    read from the SDK's generated API modules (`resource_path=`, `_response_types_map`)."""
    try:
        import mixpeek.api
    except ImportError:
        return {}
    models = {}
    for module in sorted(pathlib.Path(mixpeek.api.__file__).parent.glob("*_api.py")):
        source = module.read_text()
        # Each operation: `def name(` ... its 200 type, then `def _name_serialize(` ... its route.
        returns = dict(re.findall(
            r"\n    def (\w+)\(\n" + _WITHIN_DEF + r"'20[02]': \"(\w+)\"", source, flags=re.S))
        for name, method, path in re.findall(
                r"\n    def _(\w+)_serialize\(" + _WITHIN_DEF + r"method='(\w+)',\s*resource_path='([^']+)'",
                source, flags=re.S):
            model = returns.get(name)
            if model and model[0].isupper():
                models[(method, _template_shape(path))] = model
    return models


# Values Sluice emits beyond the SDK's enums, each because the seed quickstart promises
# it: bucket field and blob types `json` and `binary` ("text, image, audio, video, json,
# binary"), and the webhook event `batch.completed` (with the other events Sluice emits
# that have no Mixpeek name: `domain/events.rs`). The SDK's models cannot load a
# bucket or webhook that uses one; every other value the SDK does not know fails the
# check. Keyed by the field the value is in.
SEED_ONLY_VALUES = {
    "type": {"json", "binary"},
    "event_types": {"batch.completed", "batch.failed", "upload.completed", "sync.completed",
                    "sync.failed", "sync.suspended", "namespace.deleted", "bucket.deleted"},
}


def _seed_only(err) -> bool:
    field = next((part for part in reversed(err["loc"]) if isinstance(part, str)), None)
    return err["type"] == "enum" and err.get("input") in SEED_ONLY_VALUES.get(field, ())


def _sdk_refusals(model, data) -> list[str]:
    import pydantic
    try:
        model.from_dict(data)
        return []
    except pydantic.ValidationError as e:
        return [f"at /{'/'.join(map(str, err['loc']))}: {err['msg'][:300]} (got {err.get('input')!r:.80})"
                for err in e.errors()
                if not _seed_only(err)]
    except ValueError as e:  # an enum's own check, outside pydantic
        return [str(e)[:300]]


def _check_sdk_model(method: str, template: str, data, what: str):
    name = sdk_response_models().get((method, _template_shape(template)))
    if name is None or not isinstance(data, dict):
        return
    import mixpeek.models
    refusals = _sdk_refusals(getattr(mixpeek.models, name), data)
    if refusals:
        raise AssertionError(f"{what}: the SDK's {name} does not accept the response\n  " + "\n  ".join(refusals[:5]))


def register(base_url: str):
    SERVERS.add(base_url.rstrip("/"))
    if _DOCUMENT is None:
        _load(base_url.rstrip("/"))


def _validate(schema, body, what, partial=False):
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "allOf": [schema], "components": _DOCUMENT["components"] if partial else _WHOLE_ROWS}
    errors = sorted(jsonschema.Draft202012Validator(root).iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        detail = "\n".join(f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors[:5])
        raise AssertionError(f"{what}: the response does not match /openapi.json\n{detail}")


def _selects(url: str, request_body) -> bool:
    if "select=" in urllib.parse.urlsplit(url).query:
        return True
    try:
        sent = json.loads(request_body or b"null")
    except (TypeError, ValueError):
        return False
    return isinstance(sent, dict) and bool(sent.get("select"))


def observe(method: str, url: str, status: int, content_type: str, body: bytes, request_body=None):
    parsed = urllib.parse.urlsplit(url)
    base = f"{parsed.scheme}://{parsed.netloc}"
    if base not in SERVERS:
        return
    secret_scan.observe(method, parsed.path, status, body)
    # The blob endpoint and sluice-local's Prometheus text are not the API.
    if parsed.path.startswith("/_blobs/") or parsed.path == "/metrics" or _DOCUMENT is None:
        return
    what = f"{method} {parsed.path} → {status}"
    if "application/json" not in (content_type or ""):
        if status >= 400 or status == 200:
            raise AssertionError(f"{what}: content type {content_type!r}, not JSON")
        return
    data = json.loads(body or b"null")
    if status >= 400:
        _validate({"$ref": "#/components/schemas/Error"}, data, what)
        return
    for m, pattern, template, schema in _ROUTES:
        if m == method.upper() and pattern.match(parsed.path):
            partial = _selects(url, request_body)
            _validate(schema, data, f"{what} ({template})", partial=partial)
            if not partial:
                _check_sdk_model(m, template, data, f"{what} ({template})")
            COVERED.add((m, template))
            return
    raise AssertionError(f"{what}: a success from a route the document does not declare")


def install():
    send = requests.Session.send

    def observed_send(self, request, **kwargs):
        secret_scan.learn_request(request.headers, request.body)
        response = send(self, request, **kwargs)
        if not kwargs.get("stream"):
            observe(request.method, request.url, response.status_code,
                    response.headers.get("content-type", ""), response.content, request.body)
        return response

    requests.Session.send = observed_send

    try:
        from mixpeek import rest
    except ImportError:
        return
    rest_request = rest.RESTClientObject.request

    def observed_request(self, method, url, *args, **kwargs):
        sent = kwargs.get("body", args[1] if len(args) > 1 else None)
        secret_scan.learn_request(kwargs.get("headers", args[0] if args else None),
                              json.dumps(sent) if isinstance(sent, (dict, list)) else sent)
        response = rest_request(self, method, url, *args, **kwargs)
        body = response.read()
        observe(method, url, response.status, response.getheader("content-type") or "", body,
                json.dumps(sent) if isinstance(sent, (dict, list)) else sent)
        return response

    rest.RESTClientObject.request = observed_request


# A route whose success body admits nothing always answers 4xx (the Google Drive
# browsers, the Ray job cancel); a test sees its refusal instead.
NEVER_SUCCEEDS = {"$ref": "#/components/schemas/Unreachable"}


def uncovered():
    declared = {(m, t) for m, _, t, schema in _ROUTES if schema != NEVER_SUCCEEDS}
    return sorted(declared - COVERED)
