"""Prefect tasks: thin wrappers over the plain functions in ``ledgerflow`` and ``warehouse``.
Retries only where a step does I/O that can fail transiently; timeouts where a step can hang."""
