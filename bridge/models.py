"""The bridge package's tables, each name prefixed by the package."""

# The lead trims the unused names at integration; add an import on its own line if needed.
from datetime import datetime  # noqa: F401
from typing import Any  # noqa: F401

from sqlalchemy import (  # noqa: F401
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column  # noqa: F401

from bridgedesk.db import Base, UTCDateTime  # noqa: F401

# -- engine tables: probes and dials (owned by the SIP engine) --

# -- call tables: legs, launches, incidents and their timeline, call detail records --
