"""Known vulnerabilities in the locked dependencies: pip-audit over the requirements (uv.lock).

Runs ``pip-audit`` through ``uv tool run`` (not a project dependency), against the hashed, pinned
requirements compiled from ``uv.lock`` (``make requirements``), without installing anything.
pip-audit asks PyPI's JSON API for each package's advisories. Where that API cannot be reached
(an offline machine, or a network that only lets package downloads through), pip-audit reports
each package as "not found" instead of audited; this script says so plainly and exits 0 rather
than pass that off as "no known vulnerabilities". Known vulnerabilities exit 1.

    python scripts/audit.py [--uv uv]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = ("requirements.txt", "requirements-dev.txt")


def main() -> int:
    """Run the audit; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uv", default=shutil.which("uv") or "uv", help="the uv executable")
    args = parser.parse_args()
    command = [args.uv, "tool", "run", "pip-audit", "--disable-pip", "--no-deps"]
    command += ["--progress-spinner", "off", "--format", "json"]
    for name in REQUIREMENTS:
        command += ["-r", str(REPO / name)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"audit: could not run pip-audit ({exc}); nothing was audited", file=sys.stderr)
        return 0
    try:
        report = json.loads(done.stdout)
    except ValueError:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"audit: pip-audit did not run ({last}); nothing was audited", file=sys.stderr)
        return 0
    packages = report.get("dependencies", [])
    skipped = [p for p in packages if p.get("skip_reason")]
    audited = [p for p in packages if not p.get("skip_reason")]
    vulnerable = [p for p in audited if p.get("vulns")]
    for package in vulnerable:
        for vuln in package["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
            print(f"{package['name']} {package['version']}: {vuln['id']} (fixed in {fixes})")
    print(
        f"audit: {len(audited)} packages audited, {len(vulnerable)} with known vulnerabilities, "
        f"{len(skipped)} not audited"
    )
    if packages and not audited:
        print(
            "audit: PyPI's vulnerability data (its JSON API) is not reachable from this machine, "
            "so no package could be checked. Run `make audit` where pypi.org is reachable.",
            file=sys.stderr,
        )
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
