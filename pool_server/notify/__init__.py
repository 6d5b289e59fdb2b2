"""Alerts and event webhooks: telling newsrooms and members' systems what happens.

- `schema`: the tables in pool.db (saved searches, matches, endpoints, the outbox) and
  their migrations;
- `producer`: reads the catalog journal and the audit, matches saved searches (with
  `catalog.alerts`), writes outbox rows with the positions read, in one transaction;
- `outbox`: enqueue, lease, succeed, fail with backoff, purge, and the listings;
- `delivery`, `mail`, `webhook`: sending one delivery (SMTP with the poster inline;
  signed webhooks behind the SSRF guard);
- `runner`: the producer and delivery threads of `pool-server serve`;
- `service`: what users and admins do, for every door (CLI, control channel, web);
- `events`: event names and payloads (docs/events.md).
"""
