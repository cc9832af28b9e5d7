"""Property: whatever admin actions, e-mail changes and SolusVM faults happen, once the outbox is
drained the SolusVM user is exactly what billing says (status and e-mail), each change sent in order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.models import Client
from bridge.services import clients, outbox, provisioning
from tests.users.conftest import session_of

ACTION = st.one_of(
    st.tuples(st.just("status"), st.sampled_from(["active", "locked", "suspended"])),
    st.tuples(st.just("email"), st.integers(min_value=0, max_value=3)),
    st.tuples(st.just("fault"), st.sampled_from([500, 503, 0])),  # 0 = dropped connection
    st.tuples(st.just("apply"), st.just(0)),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(ACTION, min_size=1, max_size=10))
def test_drained_outbox_matches_billing(app, factory, solus, mock, actions):
    tag = uuid.uuid4().hex[:8]
    with session_of(app) as s, s.begin():
        cid = clients.create(s, {"firstname": "P", "lastname": "Q", "email": f"p-{tag}@example.com"},
                             actor="test").id
        provisioning.enroll_client(s, cid, actor="test")
    clock = datetime(2026, 10, 1, tzinfo=UTC)
    for kind, value in actions:
        if kind == "status":
            with session_of(app) as s, s.begin():
                provisioning.set_status(s, cid, value, actor="test")
        elif kind == "email":
            with session_of(app) as s, s.begin():
                client = s.get(Client, cid)
                clients.update(s, client, {"email": f"p{value}-{tag}@example.com"}, actor="test")
        elif kind == "fault":
            spec: dict[str, Any] = {"drop": True} if value == 0 else {"status": value}
            mock.faults.add(method="*", path="/api/v1/users*", times=3, **spec)
        else:
            clock += timedelta(hours=2)
            outbox.apply_pending(factory, solus, now=clock)
    mock.faults.clear()
    for _ in range(3):  # drain: every backoff has passed; an admin re-queues what ran out of attempts
        with session_of(app) as s, s.begin():
            outbox.retry_failed(s, cid)
        clock += timedelta(days=1)
        outbox.apply_pending(factory, solus, now=clock)
    with session_of(app) as s:
        client = s.get(Client, cid)
        assert outbox.pending_changes(s, cid) == []
        user = mock.backend.users[client.solusvm_user_id]
        assert user["email"] == client.email
        assert user["status"] == provisioning.desired_status(client, s)
        assert user["billing_user_id"] == cid
    assert sum(1 for u in mock.backend.users.values() if u["billing_user_id"] == cid) == 1
