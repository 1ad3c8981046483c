"""What the template must keep, checked on the SAM-expanded CloudFormation (the SAM
translator, as `sam deploy` runs it): run by ./scripts/test with SAM's virtualenv.
`check.py DIR` also writes the expanded templates to DIR, for checkov.

- every SQS event source is capped (`ScalingConfig.MaximumConcurrency`);
- a function that sends to the queue it is fed by allows the recursive loop;
- every schedule is unnamed (two stacks fit in one account) and has a dead-letter queue;
- every asynchronously invoked function has an on-failure destination;
- every EventBridge rule target has a dead-letter queue, and every queue is encrypted
  (SSE-SQS, which checkov's CKV_AWS_27 does not recognise);
- every route function has its API route, integration and invoke permission;
- every variable the AWS backend reads is set for every function and exported by the
  stack's `AdminEnvironment` output (what sluice-admin evaluates);
- every stack (the root and each route stack under stacks/) holds at most 450
  resources and its expanded template at most 800 KB (CloudFormation takes 500 and
  1 MB), so routes can be added without a stack passing the limits.
"""

import json
import logging
import pathlib
import re
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

# The translator warns of its own metrics on every template.
logging.disable(logging.WARNING)

ROOT = pathlib.Path(__file__).resolve().parents[2]
RESOURCE_LIMIT = 450
TEMPLATE_BYTES_LIMIT = 800 * 1024


class NoManagedPolicies:
    def load(self):
        return {}


def expanded(path):
    source = path.read_text()
    # The translator wants artifacts in S3; what is built locally is not its concern.
    source = re.sub(r"(CodeUri|ContentUri): .*", r"\1: s3://artifacts/code.zip", source)
    source = re.sub(r"Location: stacks/.*", r"Location: https://s3.amazonaws.com/artifacts/stack.yaml", source)
    return transform(yaml_parse(source), {}, NoManagedPolicies())


def sends_to(function_role, queue):
    """Whether the role's inline policies allow sqs:SendMessage to `queue`."""
    for policy in function_role["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            # A conditional statement (Fn::If) grants nothing it could loop with.
            actions = statement.get("Action", [])
            actions = actions if isinstance(actions, list) else [actions]
            if "sqs:SendMessage" in actions and queue in json.dumps(statement["Resource"]):
                return True
    return False


def size_problems(name, template):
    count = len(template["Resources"])
    size = len(json.dumps(template, indent=1))
    problems = []
    if count > RESOURCE_LIMIT:
        problems.append(f"{name}: {count} resources (at most {RESOURCE_LIMIT}: split it)")
    if size > TEMPLATE_BYTES_LIMIT:
        problems.append(f"{name}: {size} bytes expanded (at most {TEMPLATE_BYTES_LIMIT})")
    return problems, count


def route_problems(name, res):
    """Each function of a route stack is reachable: an integration to it, a route to the
    integration, and a permission for API Gateway to invoke it."""
    problems = []
    functions = {k for k, v in res.items() if v["Type"] == "AWS::Lambda::Function"}
    integrations = {
        k: v["Properties"]["IntegrationUri"]["Fn::GetAtt"][0]
        for k, v in res.items() if v["Type"] == "AWS::ApiGatewayV2::Integration"
    }
    routed = {
        integrations.get(v["Properties"]["Target"]["Fn::Sub"].split("${")[1].rstrip("}"))
        for v in res.values() if v["Type"] == "AWS::ApiGatewayV2::Route"
    }
    permitted = {
        v["Properties"]["FunctionName"]["Ref"]
        for v in res.values()
        if v["Type"] == "AWS::Lambda::Permission" and v["Properties"]["Principal"] == "apigateway.amazonaws.com"
    }
    for f in sorted(functions - routed):
        problems.append(f"{name}: {f} has no route")
    for f in sorted(functions - permitted):
        problems.append(f"{name}: API Gateway may not invoke {f}")
    return problems


def aws_variables():
    """The variables `AwsNames::from_env` reads (the queue URLs by their pattern)."""
    source = (ROOT / "shared/backend-aws/src/lib.rs").read_text()
    source = source.split("pub fn from_env()", 1)[1].split("\n    }\n", 1)[0]
    names = set(re.findall(r'var\("(SLUICE_[A-Z_]+)"\)', source))
    if "_QUEUE_URL" in source:
        names |= {f"SLUICE_{q}_QUEUE_URL" for q in ("TASKS", "BATCHES", "WEBHOOKS", "SYNCS")}
    assert names, "no variables found in shared/backend-aws/src/lib.rs"
    return names


def environment_problems(name, template, needed):
    problems = []
    for fname, res in template["Resources"].items():
        if res["Type"] != "AWS::Lambda::Function":
            continue
        env = res["Properties"].get("Environment", {}).get("Variables", {})
        for var in sorted(needed - set(env)):
            problems.append(f"{name}: {fname} is not given {var}")
    return problems


def main(write_to=None):
    """Checks every stack; with a directory, also writes the expanded templates there (for
    checkov)."""
    needed = aws_variables()
    root = expanded(ROOT / "template.yaml")
    if write_to:
        pathlib.Path(write_to, "template.json").write_text(json.dumps(root, indent=1))
    admin = json.dumps(root["Outputs"]["AdminEnvironment"]["Value"])
    problems_admin = [f"AdminEnvironment does not export {v}" for v in sorted(needed) if f"{v}=" not in admin]
    res = root["Resources"]
    problems, count = size_problems("template.yaml", root)
    problems += problems_admin + environment_problems("template.yaml", root, needed)
    counts = [count]
    for stack in sorted((ROOT / "stacks").glob("*.yaml")):
        template = expanded(stack)
        if write_to:
            pathlib.Path(write_to, f"{stack.stem}.json").write_text(json.dumps(template, indent=1))
        found, n = size_problems(f"stacks/{stack.name}", template)
        problems += found + route_problems(f"stacks/{stack.name}", template["Resources"])
        problems += environment_problems(f"stacks/{stack.name}", template, needed)
        counts.append(n)
    functions = {k: v for k, v in res.items() if v["Type"] == "AWS::Lambda::Function"}
    for name, mapping in res.items():
        if mapping["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        props = mapping["Properties"]
        arn = json.dumps(props.get("EventSourceArn"))
        if "Queue" not in arn:
            continue
        if not props.get("ScalingConfig", {}).get("MaximumConcurrency"):
            problems.append(f"{name}: an SQS event source without MaximumConcurrency")
        function = props["FunctionName"]["Ref"]
        queue = props["EventSourceArn"]["Fn::GetAtt"][0]
        role = res[functions[function]["Properties"]["Role"]["Fn::GetAtt"][0]]
        loops = functions[function]["Properties"].get("RecursiveLoop") == "Allow"
        if sends_to(role, queue) and not loops:
            problems.append(f"{function}: sends to {queue}, which feeds it, without RecursiveLoop: Allow")
    async_targets = set()
    for name, schedule in res.items():
        if schedule["Type"] != "AWS::Scheduler::Schedule":
            continue
        props = schedule["Properties"]
        if "Name" in props:
            problems.append(f"{name}: a named schedule (two stacks in one account would collide)")
        if "DeadLetterConfig" not in props["Target"]:
            problems.append(f"{name}: a schedule without a dead-letter queue")
        async_targets.add(props["Target"]["Arn"]["Fn::GetAtt"][0])
    for name, rule in res.items():
        if rule["Type"] != "AWS::Events::Rule":
            continue
        for target in rule["Properties"]["Targets"]:
            if "DeadLetterConfig" not in target:
                problems.append(f"{name}: target {target['Id']} without a dead-letter queue")
            arn = target["Arn"].get("Fn::GetAtt", [None])[0]
            if arn in functions:
                async_targets.add(arn)
    # What checkov's baseline relies on and checkov cannot see.
    for name, queue in res.items():
        if queue["Type"] == "AWS::SQS::Queue" and queue["Properties"].get("SqsManagedSseEnabled") is not True:
            problems.append(f"{name}: a queue without SqsManagedSseEnabled")
    with_destinations = {
        v["Properties"]["FunctionName"]["Ref"]
        for v in res.values()
        if v["Type"] == "AWS::Lambda::EventInvokeConfig"
        and v["Properties"].get("DestinationConfig", {}).get("OnFailure")
    }
    for function in sorted(async_targets - with_destinations):
        problems.append(f"{function}: invoked asynchronously without an on-failure destination")
    for p in problems:
        print(f"template: {p}", file=sys.stderr)
    print(f"template: {len(counts)} stacks, {sum(counts)} resources expanded "
          f"(largest {max(counts)}), {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
