"""The lint step of ``make test``: ruff, with its security rules (bandit's,
``S``) among those selected, is clean over the whole tree."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_security_rules_are_selected_and_only_narrow_ones_ignored():
    lint = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"]["lint"]
    assert "S" in lint["select"]
    # assert statements (tests and invariants) and non-cryptographic random numbers only.
    assert {rule for rule in lint["ignore"] if rule.startswith("S")} <= {"S101", "S311"}


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
