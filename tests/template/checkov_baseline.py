"""Compares checkov's JSON reports (the template and the SAM-expanded stacks) with the
committed baseline: every finding must be one the baseline accepts, with a reason, and
every baseline entry must still find something (a stale entry hides the next finding).

    python3 tests/template/checkov_baseline.py REPORT.json [REPORT.json ...]
"""

import json
import pathlib
import sys
from collections import Counter

BASELINE = pathlib.Path(__file__).with_name("checkov-baseline.json")


def failures(report_path):
    reports = json.loads(pathlib.Path(report_path).read_text())
    for report in reports if isinstance(reports, list) else [reports]:
        yield from report.get("results", {}).get("failed_checks", [])


def accepted(entry, finding):
    kind = finding["resource"].split(".", 1)[0]
    return kind in entry.get("resource_types", []) or finding["resource"] in entry.get("resources", [])


def main(paths):
    baseline = {k: v for k, v in json.loads(BASELINE.read_text()).items() if k != "_"}
    problems = [f"{check}: no reason given" for check, e in baseline.items() if not e.get("reason", "").strip()]
    used, counts = set(), Counter()
    for path in paths:
        for f in failures(path):
            entry = baseline.get(f["check_id"])
            if entry and accepted(entry, f):
                used.add(f["check_id"])
                counts[f["check_id"]] += 1
            else:
                problems.append(f"{f['check_id']} ({f['check_name']}): {f['resource']} in {f.get('file_path')}")
    problems += [f"{check}: in the baseline but no longer found (remove it)" for check in sorted(set(baseline) - used)]
    for p in problems:
        print(f"checkov: {p}", file=sys.stderr)
    summary = ", ".join(f"{c} {n}" for c, n in sorted(counts.items()))
    print(f"checkov: {sum(counts.values())} accepted findings ({summary}); {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
