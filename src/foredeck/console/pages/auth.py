"""Sign-in and sign-out of the console."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError as PydanticValidationError

from foredeck.auth import service as auth_service
from foredeck.auth.schemas import PasswordChange, Role
from foredeck.auth.sessions import forget_user
from foredeck.console import session as console_session
from foredeck.console.web import PUBLIC, ConsoleRoute, page, require, safe_next
from foredeck.db import transaction
from foredeck.errors import Unauthorized, ValidationFailed
from foredeck.kit.runtime import get_runtime

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_page(
    request: Request,
    *,
    next_url: str,
    username: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    secret = get_runtime(request).config.resolved_secret_key
    cookie, token = console_session.new_login_token(secret)
    response = page(
        request,
        "login.html",
        "login",
        status_code=status,
        next_url=next_url,
        username=username,
        error=error,
        login_token=token,
    )
    response.set_cookie(
        console_session.LOGIN_COOKIE,
        cookie,
        max_age=3600,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/ui/login",
    )
    return response


@router.get("/ui/login", openapi_extra=PUBLIC)
async def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in page."""
    return _login_page(request, next_url=safe_next(next))


@router.post("/ui/login", openapi_extra=PUBLIC)
async def login(request: Request) -> Response:
    """Check the password and start a console session."""
    form = await request.form()
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    next_url = safe_next(str(form.get("next") or ""))
    config = get_runtime(request).config
    if not console_session.check_login_token(
        config.resolved_secret_key,
        request.cookies.get(console_session.LOGIN_COOKIE),
        str(form.get(console_session.CSRF_FIELD) or ""),
    ):
        return _login_page(
            request,
            next_url=next_url,
            username=username,
            error="The sign-in form expired; please try again.",
            status=403,
        )
    if not username or not password:
        return _login_page(
            request,
            next_url=next_url,
            username=username,
            error="Enter your username and password.",
            status=422,
        )
    try:
        async with transaction(get_runtime(request).sessionmaker) as db:
            user = await auth_service.authenticate(db, username=username, password=password)
            user_id, stamp = user.id, auth_service.credentials_stamp(user)
    except Unauthorized as exc:
        return _login_page(
            request, next_url=next_url, username=username, error=exc.message, status=401
        )
    response = RedirectResponse(next_url, status_code=303)
    _start_session(request, response, user_id, stamp)
    response.delete_cookie(console_session.LOGIN_COOKIE, path="/ui/login")
    return response


def _start_session(request: Request, response: Response, user_id: int, stamp: str | None) -> None:
    config = get_runtime(request).config
    value, _ = console_session.new_session(config.resolved_secret_key, user_id, stamp)
    response.set_cookie(
        console_session.COOKIE,
        value,
        max_age=config.token_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )


def _account_page(
    request: Request, *, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    changed = request.query_params.get("changed") == "1"
    return page(
        request,
        "account.html",
        "account",
        status_code=status,
        errors=errors or {},
        changed=changed,
        title="Account",
    )


@router.get("/ui/account")
async def account(request: Request) -> Response:
    """The signed-in user's account: change the password."""
    require(request, Role.viewer)
    return _account_page(request)


@router.post("/ui/account/password")
async def account_password(request: Request) -> Response:
    """Change your own password; every other session and token of yours is signed out."""
    principal = require(request, Role.viewer)
    form = await request.form()
    current = str(form.get("current_password") or "")
    new = str(form.get("new_password") or "")
    errors: dict[str, str] = {}
    if new != str(form.get("confirm_password") or ""):
        errors["confirm_password"] = "The two new passwords differ."
    try:
        body = PasswordChange(current_password=current, new_password=new)
    except PydanticValidationError as exc:
        for err in exc.errors():
            errors.setdefault(str(err["loc"][0]), err["msg"])
    if errors:
        return _account_page(request, errors=errors, status=422)
    try:
        async with transaction(get_runtime(request).sessionmaker) as db:
            user = await auth_service.get_user(db, principal.user_id)
            await auth_service.change_own_password(
                db, user, current_password=body.current_password, new_password=body.new_password
            )
            stamp = auth_service.credentials_stamp(user)
    except ValidationFailed as exc:
        field = exc.details[0]["field"] if exc.details else "current_password"
        return _account_page(request, errors={field: exc.message}, status=422)
    await forget_user(get_runtime(request).cache, principal.user_id)
    # This browser stays signed in with a fresh session; all others are refused.
    response = RedirectResponse("/ui/account?changed=1", status_code=303)
    _start_session(request, response, principal.user_id, stamp)
    return response


@router.post("/ui/logout")
async def logout(request: Request) -> Response:
    """End the console session here and on every replica."""
    session = getattr(request.state, "console_session", None)
    config = get_runtime(request).config
    if session is not None:
        left = max(1.0, session.issued_at + config.token_ttl_seconds - time.time())
        await get_runtime(request).cache.set(console_session.revoked_key(session.sid), 1, left)
        console_session.forget_local(session.sid)
    response: Response
    if request.headers.get("hx-request") == "true":
        response = Response(status_code=200, headers={"HX-Redirect": "/ui/login"})
    else:
        response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(console_session.COOKIE, path="/")
    return response
