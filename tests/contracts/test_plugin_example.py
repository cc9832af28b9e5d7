"""The README example of docs/pytest-plugin.md runs as written, in-process and under xdist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DOC = Path(__file__).resolve().parents[2] / "docs" / "pytest-plugin.md"


def example_source() -> str:
    """The first ```python block after the "Complete example" heading, verbatim."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Complete example", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "docs/pytest-plugin.md lost its example block"
    return match.group(1)


def test_example_passes(pytester):
    pytester.makepyfile(test_integrator=example_source())
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


@pytest.mark.slow(seconds=8)  # two fresh worker interpreters: several seconds of CPU
def test_example_passes_under_xdist(pytester):
    pytester.makepyfile(test_integrator=example_source())
    # Unrelated heavy plugins off: they only slow the two worker start-ups down.
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", "-p", "no:schemathesis",
                                           "-p", "no:anyio")
    result.assert_outcomes(passed=4)


def test_a_wrong_expectation_fails_with_the_journal_in_the_message(pytester):
    pytester.makepyfile(test_wrong="""
        import requests

        def test_wrong(solusvm):
            requests.get(solusvm.api_url + "/plans", headers=solusvm.headers, timeout=10)
            solusvm.assert_called("POST", "/api/v1/users", json_contains={"billing_user_id": 42})
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*expected at least 1 POST /api/v1/users with json_contains={'billing_user_id': 42}, got 0*",
        "*GET /api/v1/plans -> 200*",
    ])


def test_missing_mock_skips_with_the_reason_instead_of_breaking_pytest(pytester):
    pytester.makeconftest("""
        import sys
        sys.modules["mock_solusvm.server"] = None  # as if the mock's server piece were not installed
        sys.modules["mock_solusvm.inprocess"] = None
    """)
    pytester.makepyfile(test_skip="""
        def test_live(solusvm):
            raise AssertionError("must not run")

        def test_inprocess(solusvm_inprocess):
            raise AssertionError("must not run")

        def test_unrelated():
            assert 1 + 1 == 2
    """)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*mock_solusvm.server is not available*"])


def test_example_passes_against_an_already_running_mock(pytester):
    from mock_solusvm.server import MockServer
    from mock_solusvm.wire import namespaces

    pytester.makepyfile(test_integrator=example_source())
    with MockServer(port=0, api_tokens=["external-token"]) as server:
        result = pytester.runpytest("-p", "no:cacheprovider", "--solusvm-url", server.url,
                                    "--solusvm-api-token", "external-token", "-k", "not in_process")
        journal = server.control("default").journal.requests()
        used = [n for n in namespaces(server.app).names() if "test_integrator.py" in n]
    result.assert_outcomes(passed=3, deselected=1)
    assert len(used) == 3, "each test must have had its own namespace on the external server"
    assert journal == [], "the tests must have used their own namespaces, not the default one"
