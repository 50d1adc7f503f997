"""Imports every module that subscribes to domain events, so wiring happens at start-up."""

from app.scoring import subscribers as scoring  # noqa: F401, E402
