"""The alert e-mail as built: a digest of two items, one poster inline, links, and a
Message-ID made from the delivery id (parsed back with the standard library)."""

from __future__ import annotations

import email
import email.policy
import shutil
import subprocess
from pathlib import Path

from pool_server.notify.events import item_summary
from pool_server.notify.mail import build_message, poster_path


def test_digest_of_two_items_with_one_poster(tmp_path: Path):
    pool_root = tmp_path / "pool"
    poster = poster_path(pool_root, "TRT-1")
    poster.parent.mkdir(parents=True)
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg
    args = ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x36", "-frames:v", "1"]
    subprocess.run(
        [ffmpeg, *args, str(poster)],
        check=True,
        timeout=60,
    )
    items = [
        item_summary(
            {
                "id": "TRT-1",
                "title": "Sel <Rize>",
                "member": "TRT",
                "duration": 3725.0,
                "description": "Dere taştı. " * 40,
                "video_codec": "AVC",
                "rid": 7,
            },
            "https://pool.example.org",
            "v1",
        ),
        item_summary({"id": "AZTV-2", "title": "Daşqın", "member": "AZTV"}, "", "v2"),
    ]
    payload = {
        "to": "desk@example.org",
        "alert": {"id": 3, "name": "floods", "query": "sel OR daşqın"},
        "items": items,
        "digest": "daily",
    }
    msg = build_message(payload, "msg_abc", "pool@example.org", pool_root)
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "[Ortak] floods: 2 new item(s)"
    assert parsed["Message-ID"] == "<msg_abc@example.org>"
    text = parsed.get_body(("plain",)).get_content()
    assert "1:02:05" in text and "https://pool.example.org/items/TRT-1" in text
    assert "Daşqın" in text and len(items[0]["excerpt"]) <= 280
    html = parsed.get_body(("html",)).get_content()
    assert "Sel &lt;Rize&gt;" in html  # escaped
    [image] = [p for p in parsed.walk() if p.get_content_type() == "image/jpeg"]
    assert image.get_content() == poster.read_bytes()
    assert f"cid:{image['Content-ID'].strip('<>')}" in html
    assert html.count("<img") == 1  # the item without a poster has none
