"""Imports every module that subscribes to domain events, so wiring happens at start-up."""

from app.handoff import subscribers as handoff  # noqa: F401, E402
from app.nurture import subscribers as nurture  # noqa: F401, E402
from app.scoring import subscribers as scoring  # noqa: F401, E402
