"""The fleet collector: agents push batches of records over HTTP(S) into a dataset.

Modules, one job each: :mod:`~.tokens` (per-agent bearer tokens, stored hashed),
:mod:`~.body` (bounded reading and gzip inflation of a request body), :mod:`~.intake`
(per-record validation with a reason), :mod:`~.app` (the Starlette application: routes,
status codes, Prometheus metrics) and :mod:`~.server` (uvicorn, bind and TLS rules).
"""
