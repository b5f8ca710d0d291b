"""``examples/scenario_a.py`` runs as a new user would start it, and shows scenario A."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT

VM1_MAC = "52:54:00:a1:00:01"


def test_scenario_a_example_runs_and_shows_the_outcome() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "scenario_a.py")],
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.count("[reactor] connected") == 3
    assert "$ ndirector vm register 6f1c2b9e-3d4a-4e5f-8a7b-000000000001" in out
    assert "[reactor] notification nve1: vm-state-changed" in out
    assert "NVE1 enforces VM1's policies: VN web: ingress ACL web-in, QoS gold" in out
    assert f"NVE2 (VN web) maps VM1: web {VM1_MAC} -> 192.0.2.1" in out
    assert "NVE3 (tenant bob only) holds no mapping of VM1" in out
    assert out.rstrip().endswith("Scenario A: as expected.")
