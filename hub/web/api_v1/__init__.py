"""The staff JSON API under ``/api/v1`` (personal access tokens, the pages' roles and unit scoping).

:mod:`hub.web.api_v1.routes` holds the one route table (mounted by :func:`hub.web.api_v1.routes.setup`, documented
at ``/api/v1/openapi.json``); the handlers live in one module per resource.
"""
