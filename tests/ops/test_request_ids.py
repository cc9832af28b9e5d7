"""X-Request-ID travels to SolusVM: the request's id while serving a request, a run's id in
the cron/CLI (checked in the mock's request journal)."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from bridge import logs
from bridge.services.solusvm_client import SolusVMClient, SolusVMUnavailable
from bridge.settings import LoggingSettings
from mock_solusvm.inprocess import mock_solusvm
from tests.bridge.conftest import build_app

MOCK = "https://solusvm.test"
TOKEN = "admin-token"
ROOT = Path(__file__).resolve().parents[2]


def sent_ids(m: Any, path: str = "/api/v1/account") -> list[str | None]:
    """The X-Request-ID of every journalled call to ``path`` (header names compared without case)."""
    out = []
    for entry in m.journal.requests(method="GET", path=path):
        headers = {k.lower(): v for k, v in entry["headers"].items()}
        out.append(headers.get("x-request-id"))
    return out


def test_a_request_forwards_its_id_to_solusvm(sqlite_url: str, tmp_path: Any) -> None:
    app = build_app(sqlite_url, tmp_path, SOLUSVM_URL=MOCK, SOLUSVM_API_TOKEN=TOKEN, HEALTH_SOLUSVM_TTL=1e-9)
    with mock_solusvm(base_url=MOCK, api_token=TOKEN) as m:
        client = app.test_client()
        given = client.get("/healthz", headers={"X-Request-ID": "proxy-id.42"})  # /healthz asks SolusVM
        fresh = client.get("/healthz")
        assert given.get_json()["solusvm"]["state"] == "ok"
        assert sent_ids(m) == ["proxy-id.42", fresh.headers["X-Request-ID"]]
    # The request's id does not outlive the request.
    assert logs.current_request_id() not in {"proxy-id.42", fresh.headers["X-Request-ID"]}


def test_outside_a_request_the_process_has_one_run_id() -> None:
    with mock_solusvm(base_url=MOCK, api_token=TOKEN) as m:
        solus = SolusVMClient(MOCK, TOKEN, sleep=lambda _s: None)
        solus.account()
        solus.account()
        ids = sent_ids(m)
    assert ids[0] == ids[1] == logs.process_run_id()
    assert re.fullmatch(r"run-[0-9a-f]{24}", ids[0])


def test_run_context_gives_a_run_its_own_id_for_logs_and_calls() -> None:
    stream = io.StringIO()
    handler = logs.configure_logging(LoggingSettings(format="text"), stream=stream, force=True)
    try:
        with mock_solusvm(base_url=MOCK, api_token=TOKEN) as m:
            solus = SolusVMClient(MOCK, TOKEN, sleep=lambda _s: None)
            with logs.run_context("cron") as rid:
                assert logs.current_request_id() == rid
                with logs.run_context("nested") as inner:
                    assert inner == rid  # an outer run (or request) keeps its id
                solus.account()
                logging.getLogger("bridge.test").warning("cron step")
            solus.account()
            ids = sent_ids(m)
    finally:
        logging.getLogger("bridge").removeHandler(handler)  # type: ignore[arg-type]
    assert re.fullmatch(r"cron-[0-9a-f]{24}", rid)
    assert ids == [rid, logs.process_run_id()]
    assert f"[{rid}] cron step" in stream.getvalue()


def test_retries_carry_the_same_id() -> None:
    with mock_solusvm(base_url=MOCK, api_token=TOKEN) as m:
        solus = SolusVMClient(MOCK, TOKEN, sleep=lambda _s: None, retries=2)
        m.faults.add(method="GET", path="/api/v1/account", status=503, times=2)
        with logs.run_context(run_id="retry-run-1"):
            solus.account()
        assert sent_ids(m) == ["retry-run-1"] * 3


def test_explicit_missing_or_unsafe_ids() -> None:
    with mock_solusvm(base_url=MOCK, api_token=TOKEN) as m:
        SolusVMClient(MOCK, TOKEN, request_id=None).account()  # sends none
        SolusVMClient(MOCK, TOKEN, request_id=lambda: 'bad id\r\nX-Evil: 1').account()  # not a plain token
        SolusVMClient(MOCK, TOKEN, request_id=lambda: "from-callable").account()
        SolusVMClient(MOCK, TOKEN, headers={"x-request-id": "fixed"}).account()  # a fixed header wins
        with logs.run_context(run_id="bad id"):  # an unusable id is replaced by a fresh one
            assert logs.current_request_id().startswith("run-")
        assert sent_ids(m) == [None, None, "from-callable", "fixed"]


def test_a_retried_failure_still_names_no_token() -> None:
    with mock_solusvm(base_url=MOCK, api_token=TOKEN) as m:
        m.faults.add(method="GET", path="/api/v1/account", status=503)
        with pytest.raises(SolusVMUnavailable) as err:
            SolusVMClient(MOCK, TOKEN, sleep=lambda _s: None, retries=1).account()
    assert TOKEN not in str(err.value)


@pytest.mark.parametrize("module", ["solusvm_client", "invoicing", "locks"])
def test_services_do_not_import_flask(module: str) -> None:
    source = (ROOT / "bridge" / "services" / f"{module}.py").read_text()
    assert not re.search(r"^\s*(from|import) flask\b", source, re.M)


def test_cli_log_lines_carry_the_run_id_sent_to_solusvm() -> None:
    # The cron and invoice commands log through cli_logging(); their lines must show the same
    # id the SolusVM client sends as X-Request-ID, or an operator cannot match the two logs.
    import subprocess
    import sys

    code = ("import logging; from bridge.cli import cli_logging; from bridge import logs as o\n"
            "cli_logging(); logging.getLogger('bridge.invoicing').info('hello'); print(o.current_request_id())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    rid = done.stdout.strip()
    assert rid.startswith("run-")
    assert f"bridge.invoicing [{rid}] hello" in done.stderr
