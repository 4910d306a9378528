"""Versioned bundles, aliases (``production``, ``challenger``...) and what served when."""

from propensity.registry.aliases import PRODUCTION, Registry, RegistryError

__all__ = ["PRODUCTION", "Registry", "RegistryError"]
