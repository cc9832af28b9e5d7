"""Pages never hold a worker while SolusVM is slow: usage so far and the plan list come from a snapshot.

The client area is driven through the web test helpers (sign-up, e-mailed link, terms) on the
in-process mock; the snapshot cache itself is tested directly for its one-refresh-at-a-time rule.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from bridge.flask_glue import settings_of
from bridge.services import snapshots
from tests.web.conftest import (  # noqa: F401 - fixtures used by name
    _no_mail_left_behind,
    app,
    browser,
    enroll,
    mock,
)


def usage_section(browser: Any) -> str:  # noqa: F811 - a Browser, not the fixture
    resp = browser.get("/clientarea")
    assert resp.status_code == 200
    return resp.get_data(as_text=True).split('id="usage"')[1].split("</section>")[0]


def put_server(app: Any) -> None:  # noqa: F811 - an app, not the fixture
    from bridge.services.solusvm_client import connect

    solus = connect(settings_of(app).solusvm)
    user = solus.find_user_by_email("ann@example.com")
    plan = next(solus.iter_plans())
    solus.request("POST", "servers", json={"name": "web-9", "plan": plan["id"], "user": user["id"]})


def test_usage_so_far_is_served_from_the_snapshot_while_solusvm_fails(browser, app, mock):  # noqa: F811
    enroll(browser)
    put_server(app)
    assert "web-9" in usage_section(browser)
    asked = mock.journal.count(method="GET", path="/api/v1/usage")
    mock.faults.add(method="GET", path="/api/v1/usage", delay=30)  # SolusVM hangs from now on
    # Within a minute the page does not ask SolusVM at all.
    section = usage_section(browser)
    assert "web-9" in section and "usage-as-of" not in section
    assert mock.journal.count(method="GET", path="/api/v1/usage") == asked
    # Later, SolusVM is asked once (within the budget) and, failing, the last figures are shown with their age.
    mock.faults.clear()
    mock.faults.add(method="GET", path="/api/v1/usage", status=503)
    snapshots.cache(app.extensions, "usage").fresh_seconds = 0
    section = usage_section(browser)
    assert "web-9" in section and 'id="usage-as-of"' in section and "SolusVM did not answer in time" in section


def test_a_stale_snapshot_is_served_while_another_request_refreshes_it():
    cache = snapshots.SnapshotCache(fresh_seconds=60)
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    first, _ = cache.get("k", lambda: "old", now=long_ago)
    assert first is not None and first.value == "old"
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow() -> str:
        calls.append("slow")
        started.set()
        release.wait(10)
        return "new"

    worker = threading.Thread(target=lambda: cache.get("k", slow))
    worker.start()
    assert started.wait(10)
    # A second request while the first waits on SolusVM: the old snapshot at once, no second call.
    snap, error = cache.get("k", lambda: calls.append("second") or "never")
    assert snap is not None and snap.value == "old" and error is None and calls == ["slow"]
    release.set()
    worker.join(10)
    assert cache.get("k", lambda: "unused")[0].value == "new"


def test_a_failed_refresh_keeps_the_snapshot_with_its_age_and_drops_it_when_too_old():
    cache = snapshots.SnapshotCache(fresh_seconds=60, keep_seconds=3600)
    taken = datetime.now(UTC) - timedelta(minutes=10)
    cache.get("k", lambda: [1, 2], now=taken)

    def down() -> Any:
        raise ValueError("SolusVM down")

    snap, error = cache.get("k", down)
    assert snap is not None and snap.value == [1, 2] and isinstance(error, ValueError)
    assert snap.age_text() == "10 minutes ago"
    snap, error = cache.get("k", down, now=datetime.now(UTC) + timedelta(hours=2))
    assert snap is None and isinstance(error, ValueError)


def test_a_page_does_not_wait_for_a_late_solusvm_and_shows_the_usage_once_it_answers(browser, app, mock):  # noqa: F811
    """The refresh runs beside the request: the page answers before SolusVM does (it says the usage is
    still being loaded), SolusVM is asked once however often the page is loaded, and the figures
    appear once SolusVM has answered."""
    enroll(browser)
    put_server(app)
    mock.faults.add(method="GET", path="/api/v1/usage", delay=2, times=1)  # later than a page waits (0.5 s)
    section = usage_section(browser)
    assert "still being loaded" in section and "web-9" not in section
    assert app.extensions["bridge_solusvm_health"].slow  # the next pages do not wait at all
    asked = mock.journal.count(method="GET", path="/api/v1/usage")
    section = usage_section(browser)  # loaded again while SolusVM has not answered: not asked again
    assert "still being loaded" in section
    assert mock.journal.count(method="GET", path="/api/v1/usage") == asked
    for _ in range(40):  # the refresh ends when SolusVM answers (2 s); bounded
        section = usage_section(browser)
        if "web-9" in section:
            break
        threading.Event().wait(0.25)
    assert "web-9" in section and "usage-as-of" not in section
    assert not app.extensions["bridge_solusvm_health"].slow


def test_a_background_refresh_is_not_waited_for_once_solusvm_is_known_slow():
    health = snapshots.Health()
    cache = snapshots.SnapshotCache(health=health, page_wait=0.01)
    release = threading.Event()
    calls: list[str] = []

    def late() -> str:
        calls.append("late")
        release.wait(10)
        return "value"

    snap, error = cache.get("k", late, background=True)
    assert snap is None and isinstance(error, snapshots.StillLoading) and health.slow
    # Loaded again: no second call, no wait for the first (page_wait would not matter: known slow).
    cache.page_wait = 60
    snap, error = cache.get("k", late, background=True)
    assert snap is None and isinstance(error, snapshots.StillLoading) and calls == ["late"]
    release.set()
    for _ in range(100):
        snap, error = cache.get("k", late, background=True)
        if snap is not None:
            break
        threading.Event().wait(0.05)
    assert snap is not None and snap.value == "value" and error is None and not health.slow
    assert calls == ["late"]


def test_a_failed_background_refresh_is_not_retried_at_once_and_keeps_the_old_snapshot():
    cache = snapshots.SnapshotCache(fresh_seconds=60, retry_seconds=3600)
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    cache.get("k", lambda: "old", now=long_ago)
    calls: list[str] = []

    def down() -> Any:
        calls.append("down")
        raise ValueError("SolusVM down")

    snap, error = cache.get("k", down, background=True)  # fails at once: well within the page's wait
    assert snap is not None and snap.value == "old" and isinstance(error, ValueError)
    snap, error = cache.get("k", down, background=True)
    assert snap.value == "old" and isinstance(error, ValueError) and calls == ["down"]  # not asked again yet
    cache.retry_seconds = 0  # SolusVM failed, so it is known slow: the page does not wait for the retry
    for _ in range(100):
        snap, error = cache.get("k", lambda: "new", background=True)
        if snap.value == "new":
            break
        threading.Event().wait(0.05)
    assert snap.value == "new" and error is None


def test_a_bug_in_a_background_refresh_is_an_error_for_the_page_not_a_key_stuck_refreshing():
    cache = snapshots.SnapshotCache(retry_seconds=0)

    def broken() -> Any:
        raise KeyError("bug")

    snap, error = cache.get("k", broken, errors=(ValueError,), background=True)
    assert snap is None and isinstance(error, KeyError)
    assert cache.get("k", lambda: 1, errors=(ValueError,), background=True)[0].value == 1


def test_background_refreshes_are_capped_so_many_visitors_do_not_start_a_thread_each():
    cache = snapshots.SnapshotCache(page_wait=0, max_refreshing=2)
    release = threading.Event()
    calls: list[str] = []

    def late(key: str) -> Any:
        calls.append(key)
        release.wait(10)
        return key

    try:
        for key in ("a", "b", "c"):
            snap, error = cache.get(key, lambda key=key: late(key), background=True)
            assert snap is None and isinstance(error, snapshots.StillLoading)
        for _ in range(100):  # the two threads have started (bounded)
            if len(calls) == 2:
                break
            threading.Event().wait(0.05)
        assert sorted(calls) == ["a", "b"]  # "c" was not asked: two refreshes were running already
    finally:
        release.set()
