"""Where the pool publishes its catalog feed (catalog/FEED.md), as the client reads it."""

FEED = "/.catalog"
INDEX = f"{FEED}/index.json"
