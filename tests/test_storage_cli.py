"""``loa storage`` and storage failures as an operator meets them on the command line."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
from pathlib import Path

import boto3
import pytest

from playout import storage_credentials
from tests.cli import LOA, one_line_error, run_loa
from tests.conftest import SeaweedSession, free_port_block


def test_storage_up_refuses_a_taken_port(tmp_path: Path) -> None:
    port = free_port_block(8)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = run_loa(
            "storage", "up",
            env={"LOA_DATA_DIR": str(tmp_path), "LOA_STORAGE__EMBEDDED__PORT": str(port)},
        )  # fmt: skip
    assert result.returncode == 2
    assert str(port) in one_line_error(result)


def test_a_wrong_secret_key_is_one_line_naming_the_access_key(
    seaweed_session: SeaweedSession, tmp_path: Path
) -> None:
    text = tmp_path / "tin.txt"
    text.write_text("Bản tin thử.", encoding="utf-8")
    env = {
        "LOA_DATA_DIR": str(tmp_path / "var"),
        "LOA_STORAGE__ENDPOINT": seaweed_session.store.endpoint,
        "LOA_STORAGE__ACCESS_KEY": storage_credentials(seaweed_session.settings)[0],
        "LOA_STORAGE__SECRET_KEY": "not-the-secret",
    }
    added = run_loa(
        "content", "add", "--kind", "bulletin", "--title", "T", "--text-file", str(text),
        "--json", env=env,
    )  # fmt: skip
    item_id = str(json.loads(added.stdout)["id"])
    assert run_loa("content", "approve", item_id, env=env).returncode == 0
    assert run_loa("keys", "init", env=env).returncode == 0
    result = run_loa(
        "schedule", "add", "--content", item_id, "--communes", "pa-u",
        "--at", "2030-01-01T06:00", env=env,
    )  # fmt: skip
    assert result.returncode == 1
    line = one_line_error(result)
    assert "loa-district" in line and seaweed_session.store.endpoint in line


@pytest.mark.slow
def test_storage_lifecycle_and_env_reach_the_store(tmp_path: Path) -> None:
    env = {"LOA_DATA_DIR": str(tmp_path), "LOA_STORAGE__EMBEDDED__PORT": str(free_port_block(8))}
    try:
        assert run_loa("storage", "up", env=env).returncode == 0
        status = json.loads(run_loa("storage", "status", "--json", env=env).stdout)
        assert status["running"] is True
        exported = run_loa("storage", "env", env=env).stdout
        variables = dict(
            shlex.split(line.removeprefix("export "))[0].split("=", 1)
            for line in exported.splitlines()
        )
        s3 = boto3.client(
            "s3",
            endpoint_url=variables["AWS_ENDPOINT_URL"],
            aws_access_key_id=variables["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=variables["AWS_SECRET_ACCESS_KEY"],
            region_name=variables["AWS_DEFAULT_REGION"],
        )
        s3.put_object(Bucket=variables["LOA_BUCKET"], Key="hello.txt", Body=b"xin chao")
        assert s3.get_object(Bucket="loa", Key="hello.txt")["Body"].read() == b"xin chao"
    finally:
        assert run_loa("storage", "down", env=env).returncode == 0
    assert run_loa("storage", "status", env=env).returncode == 3


@pytest.mark.slow
def test_loa_up_serves_until_sigterm(tmp_path: Path) -> None:
    port = free_port_block(8)
    env = {**os.environ, "LOA_DATA_DIR": str(tmp_path), "LOA_STORAGE__EMBEDDED__PORT": str(port)}
    process = subprocess.Popen([*LOA, "up"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert f"127.0.0.1:{port}" in process.stdout.readline()
        status = run_loa("storage", "status", "--json", env=env)
        assert json.loads(status.stdout)["running"] is True
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
    assert run_loa("storage", "status", env=env).returncode == 3
