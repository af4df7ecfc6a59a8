"""The OpenAPI page, ``/docs`` (Swagger UI), served with no CDN.

FastAPI's own pages load their scripts, styles and favicon from CDNs, so they are
blank on a machine without internet. This one loads the same Swagger UI from the
``fastapi-offline`` package (Swagger UI is Apache-2.0), mounted under ``ASSETS``;
the app must be created with ``docs_url=None, redoc_url=None``. There is no
``/redoc``: ReDoc fetches its logo from its vendor's CDN whatever it is given.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS", "add_docs"]

#: where the pages' scripts, styles and favicon are served
ASSETS = "/docs-assets"
# the package's own files, never a copy of them: an upgrade brings a newer Swagger UI
_FILES = resources.files("fastapi_offline").joinpath("static")


def _asset(request: Request, name: str) -> str:
    # root_path keeps the links right behind a proxy that serves the app under a prefix
    return f"{request.scope.get('root_path', '')}{ASSETS}/{name}"


def _openapi(request: Request, app: FastAPI) -> str:
    return f"{request.scope.get('root_path', '')}{app.openapi_url}"


def add_docs(app: FastAPI) -> None:
    """Serve ``/docs`` for ``app``, every file it loads from this server."""
    app.mount(ASSETS, StaticFiles(directory=str(_FILES)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=_openapi(request, app),
            title=f"{app.title} - Swagger UI",
            swagger_js_url=_asset(request, "swagger-ui-bundle.js"),
            swagger_css_url=_asset(request, "swagger-ui.css"),
            swagger_favicon_url=_asset(request, "favicon.png"),
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
