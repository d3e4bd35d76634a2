"""Bandit policies."""

from .linucb import LinUCB

__all__ = ["LinUCB"]
