"""HTTP client of the collector API for the CLI, with errors a user can act on."""

from __future__ import annotations

import os
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"


class ApiError(Exception):
    """The API could not be reached or refused the request; the message says what to do."""


class ApiClient:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 60.0) -> None:
        self.url = (url or os.environ.get("PATROL_URL") or DEFAULT_URL).rstrip("/")
        self.token = token or os.environ.get("PATROL_TOKEN") or ""
        self._http = httpx.Client(base_url=self.url, timeout=timeout,
                                  headers={"Authorization": f"Bearer {self.token}"} if self.token else {})

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            r = self._http.request(method, path, **kwargs)
        except httpx.ConnectError:
            raise ApiError(f"cannot reach the collector API at {self.url}: is patrol-collector running? "
                           "(set PATROL_URL or --url)") from None
        except httpx.TimeoutException:
            raise ApiError(f"the collector API at {self.url} did not answer in time") from None
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail", r.text)
            except ValueError:
                detail = r.text
            if r.status_code == 401 and not self.token:
                detail = f"{detail} — set PATROL_TOKEN or pass --token"
            raise ApiError(f"{r.status_code}: {detail}")
        return r.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, json: Any = None) -> Any:
        return self.request("POST", path, json=json)
