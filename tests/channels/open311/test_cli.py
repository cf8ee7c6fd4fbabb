"""`rexian open311 key create NAME` prints a working key as the last line of its output."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.channels.open311.helpers import post_request
from tests.fixtures.hub import ScriptedNlu, running_hub


async def run_cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rexian.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_key_create_prints_the_key_last_and_it_works(tmp_path: Path, scripted_nlu: ScriptedNlu) -> None:
    data = tmp_path / "data"
    code, out, err = await run_cli("open311", "key", "create", "城市服务App", "--data-dir", str(data))
    assert code == 0, err
    lines = out.strip().splitlines()
    key = lines[-1].strip()
    assert len(key) >= 43 and " " not in key
    assert "城市服务App" in out
    stored = b"".join(f.read_bytes() for f in data.iterdir() if f.name.startswith("rexian.sqlite3"))
    assert key.encode() not in stored  # only its hash is stored (database and WAL)

    async with running_hub(data, nlu=scripted_nlu) as running:
        status, body = await post_request(
            running, key, service_code="municipal.streetlight", address_string="城东区人民路12号"
        )
        assert status == 200, body
        status, body = await post_request(
            running, key[:-1] + "x", service_code="municipal.streetlight", address_string="城东区人民路12号"
        )
        assert status == 403


async def test_key_create_refuses_an_empty_name(tmp_path: Path) -> None:
    code, _out, err = await run_cli("open311", "key", "create", "  ", "--data-dir", str(tmp_path / "data"))
    assert code != 0
    assert "name" in err
