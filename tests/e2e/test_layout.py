"""One route table: every route has one Lambda binary and one function in a route stack
(stacks/routes-*.yaml) with a matching API route, and nothing else is there."""

import pathlib

from cfnlint.decode import decode

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORKERS = {"tasks-worker", "upload-events", "sweeper", "batch-worker", "webhook-dispatcher", "sync-poller", "sync-worker"}
# The Lambda binaries: plain ones, and those that embed (their own crate, so the others
# do not link the models or the extractors).
BINARIES = sorted(
    p for crate in ("lambda", "lambda-models") for p in (ROOT / "functions" / crate / "src" / "bin").glob("*.rs")
)


def routes(sluice):
    doc = sluice.call("GET", "/openapi.json").json()
    return {
        op["operationId"]: (method.upper(), path)
        for path, item in doc["paths"].items()
        for method, op in item.items()
    }


def template_functions():
    """Each function's binary, with the API routes that reach it (through an integration)."""
    functions = {}
    for path in [ROOT / "template.yaml", *sorted((ROOT / "stacks").glob("*.yaml"))]:
        template, errors = decode(str(path))
        assert not errors, errors
        resources = template["Resources"]
        by_integration = {
            name: res["Properties"]["IntegrationUri"]["Fn::GetAtt"][0]
            for name, res in resources.items() if res["Type"] == "AWS::ApiGatewayV2::Integration"
        }
        routes = {}
        for res in resources.values():
            if res["Type"] == "AWS::ApiGatewayV2::Route":
                integration = res["Properties"]["Target"]["Fn::Sub"].split("${")[1].rstrip("}")
                method, route_path = res["Properties"]["RouteKey"].split(" ", 1)
                routes.setdefault(by_integration[integration], []).append((method, route_path))
        for name, res in resources.items():
            if res["Type"] != "AWS::Serverless::Function":
                continue
            binary = res["Metadata"]["BuildProperties"]["Binary"]
            assert binary not in functions, f"{binary} is built by two functions"
            functions[binary] = routes.get(name, [])
    return functions


def test_route_table_binaries_and_template_agree(sluice):
    table = routes(sluice)
    assert len(table) >= 26
    binaries = {p.stem for p in BINARIES}
    assert binaries == set(table) | WORKERS, {
        "routes without a binary": set(table) - binaries,
        "binaries without a route": binaries - set(table) - WORKERS,
    }
    functions = template_functions()
    assert set(functions) == set(table) | WORKERS, {
        "routes without a function": set(table) - set(functions),
        "functions without a route": set(functions) - set(table) - WORKERS,
    }
    for name, (method, path) in table.items():
        assert functions[name] == [(method, path)], f"{name}: template has {functions[name]}, route table has {(method, path)}"
    for worker in WORKERS:
        assert functions[worker] == []


def test_every_binary_is_a_thin_entry_point():
    for path in BINARIES:
        lines = [l for l in path.read_text().splitlines() if l.strip()]
        assert len(lines) <= 10, f"{path.name} holds logic: entry points stay ~10 lines"
