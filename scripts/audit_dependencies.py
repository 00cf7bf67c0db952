#!/usr/bin/env python
"""Development tool (`make security`): pip-audit of the installed dependencies, honest about being offline.

pip-audit asks a vulnerability service about every installed distribution, so the
dependency audit needs the network. When the service cannot be reached, pip-audit
either reports each distribution as "could not be audited" (and still says "No known
vulnerabilities found") or dies with a connection traceback; either way this wrapper
prints one line saying that nothing was audited and why, never the traceback, and
exits 0: bandit, which `make security` runs first, needs no network and has passed.
`--require-service` makes that exit 1. A known vulnerability, or pip-audit failing
for any other reason, exits 1.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess  # nosec B404
import sys
from pathlib import Path

# The last line of pip-audit's traceback when its service's host cannot be reached (no route, no name
# resolution, a proxy down, a timeout, a TLS failure on the way).
NETWORK_ERROR = re.compile(r"^requests\.exceptions\.(ConnectionError|ProxyError|ConnectTimeout|ReadTimeout|SSLError)\b")


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
        unreachable = why_unreachable(result.stderr)
        if unreachable is not None:
            return offline(unreachable, options.require_service)
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"pip-audit failed (exit {result.returncode}): {last}", file=sys.stderr)
        return 1
    dependencies = report.get("dependencies", [])
    audited = [d for d in dependencies if "skip_reason" not in d]
    if dependencies and not audited:
        return offline(
            f"none of {len(dependencies)} answered, e.g. {dependencies[0]['skip_reason']}", options.require_service
        )
    vulnerable = [d for d in audited if d.get("vulns")]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed version"
            print(f"VULNERABLE {dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {fixed})")
    print(
        f"pip-audit: {len(audited)} of {len(dependencies)} installed distributions audited, "
        f"{len(vulnerable)} with known vulnerabilities"
    )
    return 1 if vulnerable else 0


def why_unreachable(stderr: str) -> str | None:
    """Why pip-audit could not reach its service, from its traceback; None when it failed for another reason."""
    lines = stderr.strip().splitlines()
    if not lines or not NETWORK_ERROR.match(lines[-1]):
        return None
    host = re.search(r"host='([^']+)'", lines[-1])
    causes = re.findall(r"\[Errno -?\d+\] ([^'\")]+)", lines[-1])
    cause = causes[-1] if causes else lines[-1].split(":")[0]
    return f"{host.group(1) if host else 'its service'} could not be reached: {cause}"


def offline(reason: str, require_service: bool) -> int:
    """Say in one line that nothing was audited, and why; exit 0 unless the service is required."""
    then = "--require-service makes that a failure" if require_service else "run make security where PyPI answers"
    print(f"pip-audit: nothing was audited, the dependency audit needs the network ({reason}); {then}", file=sys.stderr)
    return 1 if require_service else 0


if __name__ == "__main__":
    sys.exit(main())
