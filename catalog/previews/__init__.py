"""Previews: a poster, a thumbnail strip (sprite + WebVTT) and a small H.264 proxy with
the source timecode burnt in for every video item; a waveform and an AAC proxy for audio.

- `tools`: which ffmpeg, and probing a source (ffprobe, or MediaInfo in a child);
- `plan`: the ffmpeg commands (one decode per item) and choosing the poster;
- `runner`: running ffmpeg at low priority with a time limit, pausable;
- `job`: one item's previews, made in a hidden folder and published by rename;
- `queue`: the persistent huey queues (SQLite or Redis), lanes and priorities;
- `service`: the worker threads and crash recovery; `status`: what the queue is doing.

Published in ``pool/.catalog/previews/<ITEM-ID>/``; the item's `preview` field says
what is there.
"""
