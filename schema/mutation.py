"""Root mutation fields, composed from one class per area (alert rules, the watchlist)."""

from __future__ import annotations

from strawberry.tools import merge_types
from strawberry.types.base import get_object_definition

from schema.alerts import AlertMutation
from schema.mss import WatchlistMutation

Mutation = merge_types("Mutation", (AlertMutation, WatchlistMutation))
get_object_definition(Mutation, strict=True).description = (  # merge_types takes no description
    "Changes to what the service keeps for you (alert rules, the watchlist). Expected failures are union members "
    "implementing Problem (code, message), never errors."
)
