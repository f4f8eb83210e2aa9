"""Imports every package's models so that one metadata knows all tables (Alembic, tests)."""


def import_all_models() -> None:
    import billing.models  # noqa: F401
    import bridge.models  # noqa: F401
    import bridgedesk.models  # noqa: F401
    import certification.models  # noqa: F401
    import monitoring.models  # noqa: F401
    import reservations.models  # noqa: F401
