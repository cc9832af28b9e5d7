from tests.smtp_fixture import smtp_server  # noqa: F401
