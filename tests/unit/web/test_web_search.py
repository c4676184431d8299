"""One search box on every page: receipt numbers (full and short), units by abbreviation (with or without
苏州市), an ambiguous name listing its candidates, senders, subjects, file names, persons and mail text;
/units/<partial> offering a choice; Chinese 404 and 500 pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from mailintake.db.models import Message
from mailintake.web.app import create_app
from tests.support.web_support import HOSTILE_FROM, HOSTILE_PERSON, PASSWORD, VIEWER, Filled, fill

WZ = "苏州市吴中区行政审批局"


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    return fill(tmp_path_factory.mktemp("search") / "demo")


@pytest.fixture(scope="module")
def client(filled: Filled) -> Iterator[TestClient]:
    with TestClient(create_app(filled.settings, filled.factory), follow_redirects=False) as c:
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
        assert c.post("/login", data={"username": VIEWER, "password": PASSWORD, "csrf_token": token}).status_code == 303
        yield c


def groups(html: str) -> dict[str, int]:
    return {name: int(n) for name, n in re.findall(r'<h2 id="\w+">(单位|邮件|申报表)（(\d+)）</h2>', html)}


def test_every_page_has_the_search_box(client: TestClient) -> None:
    for path in ("/", "/mails", "/units", "/audit"):
        assert '<form class="search" method="get" action="/search"' in client.get(path).text
        assert '<input type="search" name="q"' in client.get(path).text


def test_receipt_numbers_full_and_short(client: TestClient, filled: Filled) -> None:
    with filled.factory() as session:
        pk, receipt = session.execute(select(Message.id, Message.receipt_no).where(Message.receipt_no.is_not(None))
                                      .order_by(Message.id)).first()  # type: ignore[misc]
    assert receipt is not None
    for q in (receipt, receipt.split("-")[1]):
        page = client.get("/search", params={"q": q}).text
        assert groups(page)["邮件"] == 1, q
        assert f'<a href="/mails/{pk}">{receipt}</a>' in page


@pytest.mark.parametrize("q", ["吴中审批局", "苏州市吴中审批局", "吴中区行政审批局", "相城区审批局"])
def test_units_by_abbreviation(client: TestClient, q: str) -> None:
    page = client.get("/search", params={"q": q}).text
    assert groups(page)["单位"] == 1
    expected = WZ if "吴中" in q else "苏州市相城区行政审批局"
    assert f'<a href="/units/{quote(expected, safe="")}">{expected}</a>' in page
    if "吴中" in q:
        assert groups(page)["邮件"] >= 1  # 吴中's own mails, found through its forms


def test_an_ambiguous_name_lists_the_candidates(client: TestClient) -> None:
    page = client.get("/search", params={"q": "吴中"}).text
    assert "“吴中”对应多个单位，请选择" in page
    assert WZ in page and "苏州市吴中区便民服务中心" in page
    choice = client.get("/units/" + quote("吴中", safe=""))
    assert choice.status_code == 200 and "请选择单位" in choice.text and "苏州市吴中区便民服务中心" in choice.text
    one = client.get("/units/" + quote("相城审批局", safe=""))  # the matcher resolves it: the unit's page
    assert one.status_code == 200 and "<h1>苏州市相城区行政审批局" in one.text


def test_senders_subjects_persons_files_and_text(client: TestClient) -> None:
    assert groups(client.get("/search", params={"q": HOSTILE_FROM}).text)["邮件"] == 1
    assert groups(client.get("/search", params={"q": "请问表1可以申报几个项目"}).text)["邮件"] == 1
    assert groups(client.get("/search", params={"q": "纸质材料需要几份"}).text)["邮件"] == 1  # the body
    person = client.get("/search", params={"q": HOSTILE_PERSON}).text
    assert groups(person)["申报表"] == 1 and "<script>alert" not in person
    assert groups(client.get("/search", params={"q": "onerror=alert(3)"}).text)["邮件"] == 1  # a file name
    empty = client.get("/search", params={"q": "没有这个词语"}).text
    assert groups(empty) == {"单位": 0, "邮件": 0, "申报表": 0}


def test_chinese_error_pages(client: TestClient) -> None:
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "未找到" in missing.text and "Not Found" not in missing.text
    assert client.get("/units/" + quote("完全不存在的单位", safe="")).status_code == 404


def test_lists_filter_and_sort(client: TestClient) -> None:
    silent = client.get("/units", params={"applied": "no"}).text
    listed = re.findall(r'<td><a href="/units/[^"]+">([^<]+)</a></td>', silent)
    assert listed and WZ not in listed
    applied = client.get("/units", params={"applied": "yes", "sort": "name", "dir": "desc"}).text
    table = applied.split('<table class="units">')[1].split("</table>")[0]
    names = re.findall(r'<td><a href="/units/[^"]+">([^<]+)</a></td>', table)
    assert names == sorted(names, reverse=True) and WZ in names
    wz_category = client.get("/units", params={"category": "交易中心、便民中心（12345）"}).text
    assert WZ not in wz_category and "苏州市吴中区便民服务中心" in wz_category
    forms = client.get("/submissions", params={"table": "1", "category": "市、区审批局"}).text
    assert WZ in forms and "回执编号" in forms
    none = client.get("/submissions", params={"table": "1", "status": "late", "category": "开发区、镇审批局"}).text
    assert "苏州市" not in none.split("<tbody>")[1].split("</tbody>")[0]


def test_hand_off_page_one_table_whole(client: TestClient) -> None:
    everything = client.get("/handoff").text
    assert all(f"<h2>表{n} " in everything for n in (1, 2, 3, 4))
    one = client.get("/handoff", params={"table": "3"}).text
    assert "<h2>表3 " in one and "<h2>表1 " not in one and '<a href="/handoff">返回全部表</a>' in one


def test_overview_is_a_to_do_list_with_quota_use_by_category(client: TestClient) -> None:
    page = client.get("/").text
    todo = re.findall(r'<li(?: class="open")?><a href="([^"]+)">([^<]+)</a> <strong>(\d+)</strong></li>', page)
    assert [(link, label) for link, label, _ in todo] == [
        ("/mails?waiting=1", "待答复的来信"), ("/mails?status=needs_correction", "待更正的申报"),
        ("/units?applied=no", "尚未申报的单位"), ("/units?paper=missing", "纸质材料未收到"),
        ("/mails?reply=failed", "回复发送失败"), ("#quota", "超出名额")]
    counts = {label: int(n) for _, label, n in todo}
    assert counts["待答复的来信"] == 1 and counts["尚未申报的单位"] == 29
    silent = client.get("/units?applied=no").text.split('<table class="units">')[1].split("</table>")[0]
    assert silent.count('<td><a href="/units/') == counts["尚未申报的单位"]
    assert '<h2 id="quota-categories">' in page and "<td>市、区审批局</td>" in page
