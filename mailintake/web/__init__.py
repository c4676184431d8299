"""The office's web console: server-rendered pages (Starlette + Jinja2) over the worker's database.

Layout: ``app.create_app`` assembles the application; ``routes/<area>.py`` holds one area's
handlers (each module exports ``ROUTES`` and, for a page in the navigation bar, ``NAV``);
``queries/<area>.py`` holds the reads the handlers make; actions call ``mailintake.office``.
To add a page: write ``routes/<area>.py`` + ``queries/<area>.py`` + ``templates/<area>.html``
(extending ``base.html``) and list the module in ``routes.MODULES``.
"""
