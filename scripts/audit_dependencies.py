#!/usr/bin/env python
"""Development tool (`make security`): pip-audit of the installed dependencies, honest about being offline.

pip-audit asks a vulnerability service about every installed distribution. When
the service cannot be reached it reports each one as "could not be audited" and
still says "No known vulnerabilities found"; this wrapper counts what was really
audited. Exit 1 on any known vulnerability; when nothing could be audited, exit 0
with a warning (`--require-service` makes that exit 1).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess  # nosec B404
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--require-service", action="store_true", help="Fail when nothing could be audited.")
    parser.add_argument("--pip-audit", default=None, help="The pip-audit program [default: beside this Python].")
    options = parser.parse_args(argv)
    program = options.pip_audit or str(Path(sys.executable).with_name("pip-audit"))
    if not Path(program).exists() and not shutil.which(program):
        print(f"pip-audit not found at {program}: make install-dev installs it", file=sys.stderr)
        return 1
    command = [program, "--progress-spinner", "off", "--skip-editable", "--format", "json"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # nosec B603
    try:
        report = json.loads(result.stdout)
    except ValueError:
        print(f"pip-audit failed (exit {result.returncode}): {result.stderr.strip()}", file=sys.stderr)
        return 1
    dependencies = report.get("dependencies", [])
    audited = [d for d in dependencies if "skip_reason" not in d]
    vulnerable = [d for d in audited if d.get("vulns")]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed version"
            print(f"VULNERABLE {dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {fixed})")
    print(
        f"pip-audit: {len(audited)} of {len(dependencies)} installed distributions audited, "
        f"{len(vulnerable)} with known vulnerabilities"
    )
    if vulnerable:
        return 1
    if dependencies and not audited:
        print(
            "pip-audit: the vulnerability service could not be reached (offline?): nothing was audited; "
            "run make security where PyPI's JSON API or OSV answers",
            file=sys.stderr,
        )
        return 1 if options.require_service else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
