"""The HTTP service: FastAPI app, roles checked per route, the prediction log, metrics.

The app (:mod:`~propensity.serving.app`), its state, routes, dependencies and handlers
import FastAPI. The API keys themselves are core (:mod:`~propensity.registry.keys`,
:mod:`~propensity.registry.keyring`), so the CLI's ``keys`` verb and ``Project`` never
pay for FastAPI (uvicorn is imported only when the service runs).
"""
