"""The HTTP service: FastAPI app, API keys with roles, the prediction log, metrics.

FastAPI and uvicorn are imported only by :mod:`propensity.serving.app`, so the CLI's
``keys`` verb and the core never pay for them.
"""
