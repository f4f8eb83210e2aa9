"""House rules no import contract can express (SPEC §2), read from the source with `ast`:
services flush and the edge commits, a router calls at most one service function of another
package, and every test file mirrors a module or sits in a named flow folder."""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bridgedesk", "reservations", "bridge", "certification", "monitoring", "billing")
# Folders of tests that follow a flow across packages rather than one module.
FLOW_FOLDERS = frozenset({"e2e", "server", "sip", "house"})

# Where a transaction may be committed by hand, and why.
COMMITS_ALLOWED = {
    # The unit of work: the edge's session dependency and the jobs' `unit_of_work()`.
    "bridgedesk/db.py": "the unit of work",
    # The SIP engine's processes keep their own short transactions (they run no request).
    "bridge/engine": "the engine",
    # The scheduler's leader holds a PostgreSQL session-level advisory lock on its own
    # connection for as long as it lives: taking it is not a unit of work.
    "bridgedesk/app/worker.py": "the leader lock",
}
HTTP_VERBS = frozenset({"get", "post", "put", "patch", "delete", "api_route"})


def _sources(root: Path) -> Iterator[tuple[str, Path]]:
    """(path relative to the root, path) of every production module."""
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path.relative_to(root).as_posix(), path


def _commit_allowed(relative: str) -> bool:
    return any(relative == place or relative.startswith(place + "/") for place in COMMITS_ALLOWED)


def commits_outside_the_unit_of_work(root: Path) -> list[str]:
    found = []
    for relative, path in _sources(root):
        if _commit_allowed(relative):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "commit"
            ):
                found.append(f"{relative}:{node.lineno}")
    return found


def _package_of(relative: str) -> str:
    parts = relative.removesuffix(".py").split("/")
    return "bridgedesk.app" if parts[:2] == ["bridgedesk", "app"] else parts[0]


def _foreign_services(tree: ast.Module, own: str) -> tuple[set[str], set[str]]:
    """Names bound to another package's service: modules (`from x.service import m`) and
    functions (`from x.service.m import f`)."""
    modules: set[str] = set()
    functions: set[str] = set()
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom) or node.module is None:
            continue
        parts = node.module.split(".")
        if parts[0] == own or "service" not in parts:
            continue
        into = modules if parts[-1] == "service" else functions
        into.update(alias.asname or alias.name for alias in node.names)
    return modules, functions


def _is_route(function: ast.AsyncFunctionDef | ast.FunctionDef) -> bool:
    return any(
        isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr in HTTP_VERBS
        for d in function.decorator_list
    )


def routers_calling_several_foreign_services(root: Path) -> list[str]:
    found = []
    for relative, path in _sources(root):
        own = _package_of(relative)
        tree = ast.parse(path.read_text(), str(path))
        modules, functions = _foreign_services(tree, own)
        for function in ast.walk(tree):
            if not isinstance(function, ast.AsyncFunctionDef | ast.FunctionDef):
                continue
            if not _is_route(function):
                continue
            calls = set()
            for node in ast.walk(function):
                if not isinstance(node, ast.Call):
                    continue
                target = node.func
                if isinstance(target, ast.Name) and target.id in functions:
                    calls.add(target.id)
                elif (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id in modules
                ):
                    calls.add(f"{target.value.id}.{target.attr}")
            if len(calls) > 1:
                found.append(f"{relative}:{function.lineno} {function.name}: {sorted(calls)}")
    return found


def _module_names(root: Path, package: str) -> set[str]:
    """Every module and sub-package name in a package, at any depth (`booking`, `pages`...)."""
    names = set()
    for path in (root / package).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        names.add(path.parent.name if path.name == "__init__.py" else path.stem)
    return names


def unmatched_test_files(root: Path) -> list[str]:
    """A test file is tests/<package>/test_<module>.py, or test_<module>_<aspect>.py for a
    second file on the same module (its concurrency, its pages, its real SIP peers)."""
    tests = root / "tests"
    found = []
    for path in sorted(tests.rglob("test_*.py")):
        folder = path.relative_to(tests).parts[0]
        if folder in FLOW_FOLDERS:
            continue
        if folder not in PACKAGES:
            found.append(path.relative_to(root).as_posix())
            continue
        modules = _module_names(root, folder)
        words = path.stem.removeprefix("test_").split("_")
        prefixes = {"_".join(words[:n]) for n in range(1, len(words) + 1)}
        if not prefixes & modules:
            found.append(path.relative_to(root).as_posix())
    return found


# -- the rules, on the tree ----------------------------------------------------------------


def test_only_the_unit_of_work_commits() -> None:
    assert commits_outside_the_unit_of_work(ROOT) == []


def test_a_router_calls_at_most_one_service_function_of_another_package() -> None:
    assert routers_calling_several_foreign_services(ROOT) == []


def test_every_test_file_mirrors_a_module_or_a_flow() -> None:
    assert unmatched_test_files(ROOT) == []


# -- each rule catches what it is for, on a small tree -------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_service_that_commits_is_caught_and_the_unit_of_work_is_not(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "reservations/service/booking.py": (
                "async def book(session):\n    session.add(1)\n    await session.commit()\n"
            ),
            "bridgedesk/db.py": "async def unit_of_work(session):\n    await session.commit()\n",
            "bridge/engine/work.py": "def claim(session):\n    session.commit()\n",
        },
    )
    assert commits_outside_the_unit_of_work(root) == ["reservations/service/booking.py:3"]


ROUTER = """
from reservations.service import registry
from reservations.service.booking import book
from billing.service import drafting

@router.get("/one")
async def one(db):
    return await registry.get_site(db, 1)

@router.post("/two")
async def two(db):
    site = await registry.get_site(db, 1)
    return await book(db, site)

@router.get("/own")
async def own(db):
    return await drafting.draft(db) + await drafting.again(db)
"""


def test_a_router_with_two_foreign_service_calls_is_caught(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"billing/api.py": ROUTER})
    assert routers_calling_several_foreign_services(root) == [
        "billing/api.py:11 two: ['book', 'registry.get_site']"
    ]


def test_a_test_file_named_after_no_module_is_caught(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "billing/service/rating.py": "",
            "billing/pages.py": "",
            "tests/billing/test_rating.py": "",
            "tests/billing/test_rating_by_hand.py": "",
            "tests/billing/test_pages.py": "",
            "tests/billing/test_money_stuff.py": "",
            "tests/e2e/test_anything_browser.py": "",
            "tests/misc/test_rating.py": "",
        },
    )
    assert unmatched_test_files(root) == [
        "tests/billing/test_money_stuff.py",
        "tests/misc/test_rating.py",
    ]
