"""The operations dashboard, `/ui` on `notify-relay api`: server-rendered pages, read-only
unless `--allow-control`, behind its own login (not the API keys).

| module      | concern                                                              |
|-------------|----------------------------------------------------------------------|
| app.py      | the mounted app: the login guard, security headers, templates, stores |
| auth.py     | NOTIFY_DASHBOARD_AUTH (Basic, constant time), local mode, CSRF tokens |
| routes.py   | the pages and the two POSTs (their table is in its docstring)         |
| reads.py    | what pages show and buttons do: stats.collect, the dead-letter store  |
| chart.py    | the sends-per-minute plot as SVG rectangles (no JavaScript)           |
| templates/  | Jinja2, autoescaped; static/: the one stylesheet (no CDN, no fonts)   |

Why server-side pages: the numbers are `notify-relay stats --json`'s, read once per page;
no client framework, no build step, nothing fetched from the internet, and no script at
all (the Content-Security-Policy forbids any): the overview reloads itself with
`<meta http-equiv=refresh>`.
"""
