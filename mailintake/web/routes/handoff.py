"""/handoff 名单移交: the candidate list per table, and 公示名单.xlsx / 民主测评票.docx made on request."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailintake.web.page.context import console_of
from mailintake.web.page.render import not_found, page
from mailintake.web.queries.handoff import DOCUMENTS, handoff_document, handoff_lists
from mailintake.web.routes.downloads import download

NAV = ("/handoff", "名单移交")


async def handoff_page(request: Request) -> Response:
    console = console_of(request)
    lists = await console.read(handoff_lists, console.settings, console.sources)
    return page(request, "handoff.html", {"title": "名单移交", "lists": lists, "documents": DOCUMENTS,
                                          "deadline": console.settings.campaign.deadline,
                                          "closed": console.now() >= console.settings.campaign.deadline})


async def handoff_file(request: Request) -> Response:
    which = request.path_params["which"]
    if which not in DOCUMENTS:
        return not_found(request, "没有这份移交文件。")
    console = console_of(request)
    data = await console.read(handoff_document, console.settings, console.sources, which)
    name, _, media_type = DOCUMENTS[which]
    return download(data, name, media_type)


ROUTES = [
    Route("/handoff", handoff_page, methods=["GET"]),
    Route("/handoff/{which:str}", handoff_file, methods=["GET"]),
]
