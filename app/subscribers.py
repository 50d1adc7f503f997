"""Imports every module that subscribes to domain events, so wiring happens at start-up."""
