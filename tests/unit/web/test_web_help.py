"""The console's 使用说明: /help serves docs/office.md under its own headings, linked from every page."""

from __future__ import annotations

import html
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mailintake.db.audit import Actor
from mailintake.office.users import add_user
from mailintake.web.app import create_app
from mailintake.web.routes import help as help_route
from mailintake.web.routes.help import guide_path, sections
from tests.support.env import Env

OFFICE_GUIDE = Path(__file__).resolve().parents[3] / "docs" / "office.md"
SECRET = "test-secret-key-for-the-help-page-0123"


@pytest.fixture
def client(env: Env) -> Iterator[TestClient]:
    settings = env.load(web={"secret_key": SECRET})
    with env.session_factory() as session, session.begin():
        add_user(session, Actor("setup", "CLI"), "viewer1", "viewer", "correct horse battery")
    with TestClient(create_app(settings, env.session_factory), follow_redirects=False) as c:
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
        assert token
        response = c.post("/login", data={"username": "viewer1", "password": "correct horse battery",
                                          "csrf_token": token.group(1), "next": "/"})
        assert response.status_code == 303
        yield c


def test_the_checkout_serves_the_repository_guide() -> None:
    assert guide_path() == OFFICE_GUIDE


def test_an_installed_wheel_serves_its_packaged_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a wheel, shipped_dir() is mailintake/shipped/, where pyproject's force-include puts office.md."""
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "office.md").write_text("# 办公室使用说明\n", encoding="utf-8")
    monkeypatch.setattr(help_route, "shipped_dir", lambda: shipped)
    assert help_route.guide_path() == shipped / "office.md"
    pyproject = tomllib.loads((OFFICE_GUIDE.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    included = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert included["docs/office.md"] == "mailintake/shipped/office.md"


def test_sections_split_at_headings_tables_and_text() -> None:
    text = ("# 标题\n\n引言 [admin.md](admin.md)\n\n## 一、甲\n\n![图](img/x.png)\n正文 `mailintake paper`\n"
            "| 列一 | 列二 |\n|---|---|\n| `a` | **b** |\n后文\n```\n代码\n```\n### 乙\n")
    assert [(s.level, s.heading, s.blocks) for s in sections(text)] == [
        (1, "标题", [("text", "引言 admin.md")]),
        (2, "一、甲", [("text", "正文 mailintake paper"), ("table", [["列一", "列二"], ["a", "b"]]),
                      ("text", "后文\n代码")]),
        (3, "乙", []),
    ]


def test_help_page_shows_every_heading_of_the_office_guide(client: TestClient) -> None:
    response = client.get("/help")
    assert response.status_code == 200
    page = html.unescape(response.text)
    headings = [line.lstrip("#").strip() for line in OFFICE_GUIDE.read_text(encoding="utf-8").splitlines()
                if line.startswith("#")]
    assert "字数如何计算" in headings and "控制台的一天" in headings
    shown = [html.unescape(h) for h in re.findall(r"<h[123]>([^<]*)</h[123]>", response.text)]
    assert shown == headings
    assert "![" not in page and "|---|" not in page and "`" not in page
    assert "<td class=\"wrap\">阿卜杜·热合曼</td>" in response.text
    assert "<title>使用说明 · 申报受理控制台</title>" in response.text


def test_every_page_links_to_the_guide(client: TestClient) -> None:
    for path in ("/", "/mails", "/units", "/help"):
        assert '<a class="help" href="/help">使用说明</a>' in client.get(path).text, path


def test_the_guide_needs_a_login(env: Env) -> None:
    with TestClient(create_app(env.load(web={"secret_key": SECRET}), env.session_factory),
                    follow_redirects=False) as anonymous:
        response = anonymous.get("/help")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fhelp"
