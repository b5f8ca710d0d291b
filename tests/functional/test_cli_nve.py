"""``nvo3-nve serve`` as a process: start, serve, persist, stop cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ncclient import manager

from nvo3_netconf.server.auth import hash_password
from tests.functional.conftest import PASSWORD, TEST_YANG
from tests.functional.test_protocol import config, item, names


def start_agent(tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    users = tmp_path / "users.toml"
    # groups: NACM's bootstrap policy lets the admin group configure a new agent.
    users.write_text(f'[users.admin]\npassword-hash = "{hash_password(PASSWORD)}"\n'
                     'groups = ["admin"]\n')
    port_file = tmp_path / "port"
    port_file.unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "nvo3_netconf.cli.nve", "serve", "--port", "0",
         "--state-dir", str(tmp_path / "state"), "--users-file", str(users),
         "--yang-dir", str(TEST_YANG), "--port-file", str(port_file)],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text().strip():
        assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "agent did not start"
        time.sleep(0.05)
    return process, int(port_file.read_text())


def connect(port: int) -> manager.Manager:
    return manager.connect(host="127.0.0.1", port=port, username="admin", password=PASSWORD,
                           hostkey_verify=False, look_for_keys=False, allow_agent=False)


def test_serve_persists_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    process, port = start_agent(tmp_path)
    try:
        m = connect(port)
        m.edit_config(target="running", config=config(item("a", 1)))
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (tmp_path / "state" / "running.xml").exists()
    process, port = start_agent(tmp_path)
    try:
        m = connect(port)
        assert names(m.get_config(source="running")) == ["a"]
        m.close_session()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_without_users_file_refuses_to_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nvo3_netconf.cli.nve", "serve", "--port", "0",
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, timeout=60,
    )
    assert result.returncode == 1
    assert b"users file is required" in result.stderr
