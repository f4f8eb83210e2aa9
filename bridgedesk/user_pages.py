"""The user pages: an admin's list of users (add, change role, reset password, deactivate)
and everyone's own account (change password)."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from bridgedesk import users
from bridgedesk.auth import CurrentActor, issue_token, require_role
from bridgedesk.db import MAX_KEY, Db
from bridgedesk.errors import DomainError
from bridgedesk.identity import CUSTOMER_ROLES, Actor, Role
from bridgedesk.web import render, set_session_cookie

router = APIRouter(include_in_schema=False)
Admin = Annotated[Actor, require_role(Role.ADMIN)]
Text = Annotated[str, Form(max_length=254)]
Secret = Annotated[str, Form(max_length=200)]

# What a redirect's `?done=` says on the next page: fixed words, so no URL can put text there.
DONE = {
    "added": "The user was added; they can sign in now.",
    "role": "The role was changed; the user signs in again to use it.",
    "password": "The password was reset; every session of that user was signed out.",
    "deactivated": "The user was deactivated and signed out everywhere.",
    "reactivated": "The user was reactivated.",
    "changed": "Your password was changed; your other sessions were signed out.",
}


def _customer_of(role: str, customer_id: str) -> int | None:
    """The form's customer, kept only for customer roles (a provider role has none)."""
    if Role(role) not in CUSTOMER_ROLES:
        return None
    if not customer_id.isdigit() or not 1 <= int(customer_id) <= MAX_KEY:
        raise users.InvalidUser("Choose the customer of a scheduler or billing user.")
    return int(customer_id)


def _role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        raise users.InvalidUser("Choose a role.") from None


async def _users_page(
    request: Request, db: Db, actor: Actor, *, error: str | None = None, **form: Any
) -> Response:
    context = {
        "users": await users.list_users(db, by=actor),
        "customers": await users.customer_choices(db),
        "roles": list(Role),
        "customer_roles": sorted(CUSTOMER_ROLES),
        "done": DONE.get(request.query_params.get("done", "")),
        "error": error,
        "form": form,
    }
    status = 422 if error else 200
    return render(request, "bridgedesk/users.html", context, actor=actor, status_code=status)


@router.get("/users")
async def users_page(request: Request, db: Db, actor: Admin) -> Response:
    return await _users_page(request, db, actor)


@router.post("/users")
async def add_user(
    request: Request,
    db: Db,
    actor: Admin,
    email: Text,
    name: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form(max_length=20)],
    password: Secret,
    customer_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    try:
        users.check_password(password)
        chosen = _role(role)
        new = users.NewUser(
            email.strip(), name.strip(), password, chosen, _customer_of(chosen, customer_id)
        )
        if "@" not in new.email or not new.name:
            raise users.InvalidUser("Give the user's email address and name.")
        async with db.begin_nested():  # a refusal leaves the page's transaction usable
            await users.create_user(db, new, by=actor)
    except DomainError as error:
        kept = {"email": email, "name": name, "role": role, "customer_id": customer_id}
        return await _users_page(request, db, actor, error=error.detail, **kept)
    return RedirectResponse("/users?done=added", status_code=303)


@router.post("/users/{user_id:int}/role")
async def change_role(
    request: Request,
    db: Db,
    actor: Admin,
    user_id: int,
    role: Annotated[str, Form(max_length=20)],
    customer_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    try:
        chosen = _role(role)
        async with db.begin_nested():
            await users.change_role(
                db, user_id, role=chosen, customer_id=_customer_of(chosen, customer_id), by=actor
            )
    except DomainError as error:
        return await _users_page(request, db, actor, error=error.detail)
    return RedirectResponse("/users?done=role", status_code=303)


@router.post("/users/{user_id:int}/password")
async def reset_password(
    request: Request, db: Db, actor: Admin, user_id: int, password: Secret
) -> Response:
    try:
        async with db.begin_nested():
            await users.reset_password(db, user_id, password=password, by=actor)
    except DomainError as error:
        return await _users_page(request, db, actor, error=error.detail)
    return RedirectResponse("/users?done=password", status_code=303)


@router.post("/users/{user_id:int}/active")
async def set_active(
    request: Request,
    db: Db,
    actor: Admin,
    user_id: int,
    active: Annotated[str, Form(pattern="^(yes|no)$")],
) -> Response:
    try:
        async with db.begin_nested():
            await users.set_active(db, user_id, active=active == "yes", by=actor)
    except DomainError as error:
        return await _users_page(request, db, actor, error=error.detail)
    done = "reactivated" if active == "yes" else "deactivated"
    return RedirectResponse(f"/users?done={done}", status_code=303)


def _account_page(request: Request, actor: Actor, error: str | None = None) -> Response:
    context = {"done": DONE.get(request.query_params.get("done", "")), "error": error}
    status = 422 if error else 200
    return render(request, "bridgedesk/account.html", context, actor=actor, status_code=status)


@router.get("/account")
async def account_page(request: Request, actor: CurrentActor) -> Response:
    return _account_page(request, actor)


@router.post("/account/password")
async def change_own_password(
    request: Request,
    db: Db,
    actor: CurrentActor,
    current: Secret,
    new: Secret,
    again: Secret,
) -> Response:
    try:
        if new != again:
            raise users.InvalidUser("The two new passwords differ.")
        async with db.begin_nested():
            user = await users.change_own_password(db, current=current, new=new, by=actor)
    except DomainError as error:
        return _account_page(request, actor, error.detail)
    # Every old session ended with the change; this browser continues on a fresh one.
    secret, _ = await issue_token(db, user, kind="page")
    response = RedirectResponse("/account?done=changed", status_code=303)
    set_session_cookie(response, request, secret)
    return response
