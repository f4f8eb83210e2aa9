"""What every package's API models share: answers read straight from a model's attributes."""

from typing import Any, Self

from pydantic import BaseModel, ConfigDict


class FromRow(BaseModel):
    """An answer whose fields are the row's attributes of the same names."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def from_model(cls, row: Any) -> Self:
        return cls.model_validate(row)
