"""Imports every package's models so that one metadata knows all tables (Alembic, tests)."""


def import_all_models() -> None:
    import bridgedesk.models  # noqa: F401
    import reservations.models  # noqa: F401
