"""Field types the monitoring API's shapes share: a month as text and a free-text note."""

from typing import Annotated

from pydantic import Field

from bridgedesk.schemas import MULTI_LINE

MonthText = Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")]


Note = Annotated[str, Field(max_length=4000), MULTI_LINE]
