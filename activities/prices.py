"""The price table behind a run's estimated cost: USD per 1M input and output tokens per model.

The defaults ship in `activities/model_prices.yaml` (with the date they were read); the
MODEL_PRICES_FILE setting replaces them with a file of the same shape. Costs are computed in
the activities, which know the settings, and travel with each run snapshot, so the workflow
stays deterministic.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workflows.common import Usage, first_error

DEFAULT_PRICES_FILE = Path(__file__).with_name("model_prices.yaml")
_SNAPSHOT_DATE = re.compile(r"-\d{4}-\d{2}-\d{2}$")


class ModelPrice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0, description="USD per 1M input (prompt) tokens")
    output: float = Field(ge=0, description="USD per 1M output (completion) tokens")


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: str | None = Field(None, description="when the prices were read")
    source: str | None = None
    models: dict[str, ModelPrice]

    def price(self, model: str | None) -> ModelPrice | None:
        """The model's price; a dated snapshot (`gpt-4o-2024-08-06`) takes its model's."""
        if model is None:
            return None
        return self.models.get(model) or self.models.get(_SNAPSHOT_DATE.sub("", model))

    def cost(self, model: str | None, usage: Usage | None) -> float | None:
        """The estimated cost in USD of `usage` on `model`; None when its price is unknown."""
        used = usage or Usage()
        if used.prompt_tokens == used.completion_tokens == 0:
            return 0.0  # nothing used costs nothing, whatever the model
        price = self.price(model)
        if price is None:
            return None
        dollars = (used.prompt_tokens * price.input + used.completion_tokens * price.output) / 1e6
        return round(dollars, 9)


class PricesFileError(ValueError):
    """The price file cannot be read or is malformed; the message says what is wrong."""


def load_prices(path: Path | None = None) -> PriceTable:
    """The table in `path` (None: the shipped defaults)."""
    source = path or DEFAULT_PRICES_FILE
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as err:
        raise PricesFileError(f"cannot read {source}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise PricesFileError(f"{source} is not YAML: {str(err).splitlines()[0]}") from None
    try:
        return PriceTable.model_validate(document)
    except ValidationError as err:
        where, problem = first_error(err)
        raise PricesFileError(f"{source}: {where or 'the file'}: {problem}") from None
