"""The user pages and the users service behind them: only admins manage users; deactivating,
resetting a password or changing a role ends the user's sessions; anyone changes their own
password only with the current one. Also who may open each page issue 15 added."""

import pytest
from sqlalchemy import func, select

from bridgedesk import users
from bridgedesk.auth import actor_of, issue_token
from bridgedesk.errors import Forbidden
from bridgedesk.identity import Role
from bridgedesk.models import AuthToken, User
from tests.conftest import PASSWORD, page_login
from tests.reservations.browsing import csrf_of

# Who may open each page issue 15 added (GET); everyone else gets 403.
PAGES = {
    "/users": {Role.ADMIN},
    "/account": set(Role),
    "/maintenance": {Role.ADMIN, Role.OPERATOR},
    "/calendar": set(Role),
    "/sites/new": {Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN, Role.SCHEDULER},
    "/docs": set(Role),
    "/redoc": set(Role),
}
PUBLIC = {"/docs", "/redoc"}


@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("path", list(PAGES))
async def test_each_new_page_opens_for_its_roles_only(db, make_user, sign_in, path, role):
    client = await sign_in(await make_user(role))
    response = await client.get(path)
    assert response.status_code == (200 if role in PAGES[path] else 403), response.text
    assert 'href="/"' in response.text  # the way back: the brand link of the layout


@pytest.mark.parametrize("path", list(PAGES))
async def test_new_pages_send_anonymous_visitors_to_sign_in(anonymous, path):
    response = await anonymous.get(path)
    if path in PUBLIC:
        assert response.status_code == 200
    else:
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


async def _tokens(db, user: User) -> int:
    return int(
        await db.scalar(select(func.count(AuthToken.id)).where(AuthToken.user_id == user.id))
    )


async def test_deactivating_signs_the_user_out_everywhere_and_reactivating_lets_them_in(
    db, make_user, sign_in, anonymous
):
    admin = await make_user(Role.ADMIN)
    victim = await make_user(Role.OPERATOR)
    their_browser = await sign_in(victim)
    await issue_token(db, victim, kind="api")
    assert (await their_browser.get("/account")).status_code == 200

    admin_browser = await sign_in(admin)
    page = await admin_browser.get("/users")
    done = await admin_browser.post(
        f"/users/{victim.id}/active", data={"active": "no", "csrf_token": csrf_of(page)}
    )
    assert done.status_code == 303 and done.headers["location"] == "/users?done=deactivated"
    assert await _tokens(db, victim) == 0
    assert (await their_browser.get("/account")).status_code == 303  # back to sign-in
    refused = await page_login(anonymous, {"email": victim.email, "password": PASSWORD})
    assert refused.status_code == 401

    await admin_browser.post(
        f"/users/{victim.id}/active", data={"active": "yes", "csrf_token": csrf_of(page)}
    )
    again = await page_login(anonymous, {"email": victim.email, "password": PASSWORD})
    assert again.status_code == 303


async def test_an_admin_adds_a_customer_user_and_a_bad_form_keeps_its_input(
    db, make_user, make_customer, sign_in
):
    customer = await make_customer()
    admin_browser = await sign_in(await make_user(Role.ADMIN))
    page = await admin_browser.get("/users")
    form = {
        "email": "kim@customer.example",
        "name": "Kim",
        "role": "billing",
        "password": "kims-password",
        "csrf_token": csrf_of(page),
    }
    refused = await admin_browser.post("/users", data=form)  # a billing user needs a customer
    assert refused.status_code == 422
    assert "Choose the customer" in refused.text and 'value="kim@customer.example"' in refused.text
    added = await admin_browser.post("/users", data={**form, "customer_id": str(customer.id)})
    assert added.status_code == 303
    kim = await db.scalar(select(User).where(User.email == "kim@customer.example"))
    assert kim is not None and (kim.role, kim.customer_id) == ("billing", customer.id)


async def test_a_role_change_follows_the_tenancy_rule_and_ends_old_sessions(db, make_user):
    admin = actor_of(await make_user(Role.ADMIN))
    user = await make_user(Role.TECHNICIAN)
    await issue_token(db, user, kind="page")
    with pytest.raises(users.InvalidUser):
        await users.change_role(db, user.id, role=Role.SCHEDULER, customer_id=None, by=admin)
    changed = await users.change_role(db, user.id, role=Role.FINANCE, customer_id=None, by=admin)
    assert changed.role == Role.FINANCE
    assert await _tokens(db, user) == 0
    with pytest.raises(users.OwnAccount):
        await users.set_active(db, admin.user_id, active=False, by=admin)


@pytest.mark.parametrize("role", [r for r in Role if r != Role.ADMIN], ids=str)
async def test_only_admins_manage_users(db, make_user, role):
    by = actor_of(await make_user(role))
    target = await make_user(Role.OPERATOR)
    with pytest.raises(Forbidden):
        await users.set_active(db, target.id, active=False, by=by)
    with pytest.raises(Forbidden):
        await users.reset_password(db, target.id, password="new-password-1", by=by)


async def test_changing_ones_own_password_needs_the_current_one(db, make_user, sign_in, anonymous):
    user = await make_user(Role.SCHEDULER)
    browser = await sign_in(user)
    page = await browser.get("/account")
    form = {"current": "not-it", "new": "brand-new-pass", "again": "brand-new-pass"}
    refused = await browser.post("/account/password", data={**form, "csrf_token": csrf_of(page)})
    assert refused.status_code == 422 and "current password is not right" in refused.text
    form["current"] = PASSWORD
    done = await browser.post("/account/password", data={**form, "csrf_token": csrf_of(page)})
    assert done.status_code == 303
    # The browser that changed it stays signed in on a fresh session.
    assert (await browser.get("/account")).status_code == 200
    old = await page_login(anonymous, {"email": user.email, "password": PASSWORD})
    assert old.status_code == 401
    new = await page_login(anonymous, {"email": user.email, "password": "brand-new-pass"})
    assert new.status_code == 303


@pytest.mark.parametrize("role", [r for r in Role if r != Role.ADMIN], ids=str)
async def test_user_management_forms_refuse_other_roles(db, make_user, sign_in, role):
    target = await make_user(Role.OPERATOR)
    browser = await sign_in(await make_user(role))
    csrf = csrf_of(await browser.get("/account"))
    posts = {
        "/users": {"email": "x@example.com", "name": "X", "role": "admin", "password": "p" * 10},
        f"/users/{target.id}/role": {"role": "finance"},
        f"/users/{target.id}/password": {"password": "p" * 10},
        f"/users/{target.id}/active": {"active": "no"},
    }
    for path, form in posts.items():
        response = await browser.post(path, data={**form, "csrf_token": csrf})
        assert response.status_code == 403, path
    await db.refresh(target)
    assert (target.active, target.role) == (True, "operator")
