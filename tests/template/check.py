"""What the template must keep, checked on the SAM-expanded CloudFormation (the SAM
translator, as `sam deploy` runs it): run by ./scripts/test with SAM's virtualenv.

- every SQS event source is capped (`ScalingConfig.MaximumConcurrency`);
- a function that sends to the queue it is fed by allows the recursive loop;
- every schedule is unnamed (two stacks fit in one account) and has a dead-letter queue;
- every asynchronously invoked function has an on-failure destination;
- every EventBridge rule target has a dead-letter queue;
- the stack stays under CloudFormation's 500 resources.
"""

import json
import pathlib
import re
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = pathlib.Path(__file__).resolve().parents[2]
RESOURCE_LIMIT = 500


class NoManagedPolicies:
    def load(self):
        return {}


def expanded():
    source = (ROOT / "template.yaml").read_text()
    # The translator wants artifacts in S3; what is built locally is not its concern.
    source = re.sub(r"(CodeUri|ContentUri): .*", r"\1: s3://artifacts/code.zip", source)
    return transform(yaml_parse(source), {}, NoManagedPolicies())["Resources"]


def sends_to(function_role, queue):
    """Whether the role's inline policies allow sqs:SendMessage to `queue`."""
    for policy in function_role["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "sqs:SendMessage" in actions and queue in json.dumps(statement["Resource"]):
                return True
    return False


def main():
    res = expanded()
    problems = []
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
    with_destinations = {
        v["Properties"]["FunctionName"]["Ref"]
        for v in res.values()
        if v["Type"] == "AWS::Lambda::EventInvokeConfig"
        and v["Properties"].get("DestinationConfig", {}).get("OnFailure")
    }
    for function in sorted(async_targets - with_destinations):
        problems.append(f"{function}: invoked asynchronously without an on-failure destination")
    count = len(res)
    if count > RESOURCE_LIMIT:
        problems.append(f"the expanded stack has {count} resources; CloudFormation takes {RESOURCE_LIMIT}")
    for p in problems:
        print(f"template: {p}", file=sys.stderr)
    print(f"template: {count} resources expanded, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
