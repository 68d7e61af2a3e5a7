"""The workbench on an app made by `adapters.http.create_app`, for tests and for a server
started before `adapters.http.ROUTES` lists it (once it does, this changes nothing)."""

from __future__ import annotations

from litestar import Litestar

from adapters.web.app import WORKBENCH


def mounted(app: Litestar) -> Litestar:
    if "/app/login" not in app.route_handler_method_map:
        app.register(WORKBENCH)
    return app
