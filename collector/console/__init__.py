"""The web console for engineers (``/console``) and the portal for customers (``/portal``).

Server-rendered Jinja2 pages with a little JavaScript (htmx and uPlot vendored under
``static/vendor``, see its README), served by the collector's HTTP API process. The feature
(:mod:`collector.console.feature`) contributes the ``console_users`` and ``console_sessions``
tables, the ``console:`` configuration section (:mod:`collector.console.config`), a service
(:mod:`collector.console.service`), the router and ``patrol users``.

Building pages on the console — the internal API
-------------------------------------------------

Routers
    Build each page module's router with :func:`collector.console.routing.console_router`
    (``router = console_router(prefix="/portal")``) and add ``"module:router"`` to
    :data:`collector.console.router.PAGE_ROUTERS`. Its routes then get the security headers (CSP
    and friends, :data:`collector.console.security.SECURITY_HEADERS`), the redirect to the login
    page, and error pages in the user's language. URL space: ``/console/...`` engineer pages,
    ``/console/api/...`` their JSON (session auth, not API tokens), ``/portal/...`` the customer
    portal, ``/static/console/...`` static files, ``/login``, ``/logout``, ``/session/language``.

Who is asking (:mod:`collector.console.auth`)
    Annotate a route parameter with ``Viewer``, ``Engineer`` or ``Admin`` (staff logins of at least
    that role) or ``Customer`` (a customer login; ``session.user.customer_id`` is the one customer
    it may see — filter every query by it), ``AnyLogin`` or ``OptionalSession``. Each resolves to a
    :class:`collector.console.sessions.Session` (``.user``: a :class:`collector.console.users.User`
    with ``username``, ``display_name``, ``role``, ``customer_id``, ``language``). ``Console``
    resolves to the :class:`collector.console.service.ConsoleService` (``.engine``, ``.app`` the
    collector app, ``.now_ms()``, ``.customer_names()``, ``.customer_zones()``,
    ``.customer_timezone(id)``).

CSRF (:mod:`collector.console.security`)
    The session dependencies check it on every write (any method but GET/HEAD/OPTIONS): the request
    must be same-origin (Origin, else Referer) and carry the session's token as the form field
    ``csrf_token`` (``{{ csrf_field() }}`` in a template) or the ``X-CSRF-Token`` header (htmx
    requests get it from ``<meta name="csrf-token">`` via ``static/console.js``; other scripts use
    ``Patrol.csrfToken()``). A write route must therefore take one of the session dependencies.

Audit
    Every write goes to the audit log: ``console.audit(event, actor, host_id=, action=, args=,
    outcome=, detail=)`` (blocking: ``await run_in_threadpool(console.audit, ...)``). Events are
    ``console.<what>`` (at most 32 characters), rows land in the diagnostics audit table with
    ``via = "console"``.

Templates (:mod:`collector.console.templating`)
    ``render(request, session, "page.html", active="nav.fleet", **values)`` renders a template of
    ``collector/console/templates`` extending ``base.html`` (blocks ``title``, ``head``,
    ``scripts``, ``main``, ``body_class``). Templates see ``t(key, **values)``, ``user``, ``lang``,
    ``csrf_field()``, ``static(path)``, ``fmt_time(ms, tz)``, ``fmt_value(v, unit)``,
    ``fmt_number(v)``, ``metric_title(name)``, ``metric_unit(name)``, ``nav`` and ``active``. The
    header's entries are :data:`collector.console.templating.NAV`. No inline ``<script>``, no
    ``on…=`` handlers, no ``style=""``: scripts go in ``static/*.js`` (loaded with
    ``<script src="{{ static('x.js') }}" defer>`` in the ``scripts`` block), looks in
    ``static/console.css``.

Language (:mod:`collector.console.i18n`, :mod:`collector.console.messages`)
    Messages are keys in the ``EN`` and ``ZH`` dicts (the same keys in both, a test checks);
    ``translate(lang, key, **values)`` outside templates. Times are shown in the customer's zone
    (``fmt_time(ms, console.customer_timezone(cid))``); metric names and units come from the metric
    catalogue.

Tests
    ``tests/console/conftest.py`` starts a real collector fed by the simulator, creates an engineer
    (``engineer``), an admin (``admin``) and a customer login (``customer``, of the first customer),
    and drives headless Chromium; ``browser.visit(path)`` saves a screenshot to
    ``build/screenshots/`` and the fixtures fail a test that logged a JavaScript error.
"""
