"""The HTTP service: FastAPI app, API keys with roles, the prediction log, metrics.

The app (:mod:`~propensity.serving.app`), its state, routes, dependencies and handlers
import FastAPI; :mod:`~propensity.serving.keys` and :mod:`~propensity.serving.keyring`
do not, so the CLI's ``keys`` verb and the core never pay for it (uvicorn is imported
only when the service runs).
"""
