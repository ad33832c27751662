"""``/api/v1/console/users``: console users managed with an admin API token (``patrol users``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from collector.api_deps import Admin, Viewer
from collector.console.auth import service
from collector.console.users import UserError, create_user, list_users, set_disabled, set_password

router = APIRouter(prefix="/api/v1/console/users", tags=["console"])


class NewUser(BaseModel):
    username: str
    password: str = Field(min_length=1, max_length=1024)
    role: str
    display_name: str | None = None
    customer: str | None = None
    language: str = "zh"


class NewPassword(BaseModel):
    password: str = Field(min_length=1, max_length=1024)


class Disabled(BaseModel):
    disabled: bool = True


def _fail(e: UserError) -> HTTPException:
    return HTTPException(404 if str(e).startswith("unknown user") else 400, str(e))


@router.get("")
def users(request: Request, _: Viewer) -> list[dict[str, Any]]:
    svc = service(request)
    with svc.engine.connect() as conn:
        return [u.to_dict() for u in list_users(conn)]


@router.post("")
async def add_user(request: Request, body: NewUser, token: Admin) -> dict[str, Any]:
    svc = service(request)
    try:
        user = await run_in_threadpool(
            lambda: create_user(svc.engine, username=body.username, password=body.password, role=body.role,
                                now_ms=svc.now_ms(), display_name=body.display_name, customer_id=body.customer,
                                language=body.language, known_customers=set(svc.customer_names())))
    except UserError as e:
        raise _fail(e) from None
    await run_in_threadpool(svc.audit, "console.user.add", f"token:{token}", action=user.role,
                            args={"username": user.username, "customer": user.customer_id or ""})
    return user.to_dict()


@router.post("/{username}/password")
async def passwd(request: Request, username: str, body: NewPassword, token: Admin) -> dict[str, Any]:
    svc = service(request)
    try:
        user = await run_in_threadpool(set_password, svc.engine, username, body.password, svc.now_ms())
    except UserError as e:
        raise _fail(e) from None
    await run_in_threadpool(svc.audit, "console.user.passwd", f"token:{token}", args={"username": username})
    return user.to_dict()


@router.post("/{username}/disabled")
async def disable(request: Request, username: str, body: Disabled, token: Admin) -> dict[str, Any]:
    svc = service(request)
    try:
        user = await run_in_threadpool(set_disabled, svc.engine, username, body.disabled)
    except UserError as e:
        raise _fail(e) from None
    await run_in_threadpool(svc.audit, "console.user.disable" if body.disabled else "console.user.enable",
                            f"token:{token}", args={"username": username})
    return user.to_dict()
