"""Duties and their outcomes for the pool's validators, turned into typed events."""
