"""Server-rendered pages for sales ops and reviewers (Jinja2, no JavaScript libraries, no CDN)."""
