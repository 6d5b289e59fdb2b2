"""The `pool` client: a local catalog of the pool, offline search, verified transfers,
and folders kept in sync (see README "Client")."""
