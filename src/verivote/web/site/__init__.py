"""The public website (issue 8): results, the ballot tracker, the bulletin board and the station
console, server-rendered in Persian (the default, right to left) and English.

    source.py         the interface the pages read through; record_source.py (a published
                      record, read-only) and live_source.py (the election's database)
    views.py          pure functions: raw material of a source → what a page or the API shows
    i18n.py           languages, Persian digits, numbers, the Solar Hijri date; messages/*.json
    charts.py         the geometry of the inline SVG bar charts (templates/chart.svg)
    render.py         the Jinja2 templates and the static files, from the package
    respond.py        a visitor's language, cookies, the page frame and the error page
    pages.py          the public pages and their errors
    console.py        the station console: login, check-in, polls, turnout
    sessions.py       the console's signed session and CSRF tokens
    guard.py          the pages' security headers and form limits
    api.py            the JSON API of everything the pages show
    audit_source.py   ballot-polling audits' folders (`serve --audit`), read and checked on
                      every request; audit_pages.py their pages and JSON; audit_chart.py the
                      plot of their risks by round (templates/risk_chart.svg)

`verivote.web.app` composes it with the check-in API into what `verivote serve` serves.
"""
