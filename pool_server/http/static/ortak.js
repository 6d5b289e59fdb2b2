// Ortak web door: small enhancements. Every page works without this file.
"use strict";

function parseTime(text) {
  const parts = text.trim().split(":").map(Number);
  return parts.reduce((acc, v) => acc * 60 + v, 0);
}

function parseVtt(text) {
  // cues of a thumbnail track: "start --> end" then "image.jpg#xywh=x,y,w,h"
  const cues = [];
  const blocks = text.replace(/\r/g, "").split("\n\n");
  for (const block of blocks) {
    const lines = block.split("\n").filter((l) => l.trim());
    const timing = lines.findIndex((l) => l.includes("-->"));
    if (timing < 0 || !lines[timing + 1]) continue;
    const [a, b] = lines[timing].split("-->");
    const m = /#xywh=(\d+),(\d+),(\d+),(\d+)/.exec(lines[timing + 1]);
    if (!m) continue;
    cues.push({ start: parseTime(a), end: parseTime(b), x: +m[1], y: +m[2], w: +m[3], h: +m[4] });
  }
  return cues;
}

function timecode(startTc, fps, seconds) {
  const rate = Math.round(fps) || 25;
  const p = (startTc || "00:00:00:00").split(/[:;]/).map(Number);
  let frames = ((p[0] * 60 + p[1]) * 60 + p[2]) * rate + (p[3] || 0);
  frames += Math.floor(seconds * rate);
  const f = frames % rate, s = Math.floor(frames / rate);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(Math.floor(s / 3600) % 24)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}:${pad(f)}`;
}

function setupPlayer(fig) {
  const video = fig.querySelector("video");
  const out = fig.querySelector("#timecode");
  const fps = parseFloat(fig.dataset.fps) || 25;
  if (video && out) {
    video.addEventListener("timeupdate", () => {
      out.textContent = timecode(fig.dataset.startTc, fps, video.currentTime);
    });
  }
  const scrub = fig.querySelector("#scrub");
  const thumb = fig.querySelector("#scrub-thumb");
  if (!scrub || !thumb || !fig.dataset.strip) return;
  let cues = [];
  fetch(fig.dataset.strip, { credentials: "same-origin" })
    .then((r) => (r.ok ? r.text() : ""))
    .then((t) => { cues = parseVtt(t); scrub.dataset.ready = "1"; });
  const duration = () => (video && isFinite(video.duration) && video.duration) ||
    (cues.length ? cues[cues.length - 1].end : 0);
  const show = (t) => {
    const cue = cues.find((c) => t >= c.start && t < c.end) || cues[cues.length - 1];
    if (!cue) return;
    thumb.style.width = `${cue.w}px`;
    thumb.style.height = `${cue.h}px`;
    thumb.style.backgroundImage = `url("${fig.dataset.stripImg}")`;
    thumb.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
    thumb.hidden = false;
    scrub.setAttribute("aria-valuenow", String(Math.round(t)));
  };
  const at = (ev) => {
    const r = scrub.getBoundingClientRect();
    return Math.max(0, Math.min(1, (ev.clientX - r.left) / r.width)) * duration();
  };
  scrub.addEventListener("mousemove", (ev) => {
    const t = at(ev);
    show(t);
    thumb.style.left = `${Math.max(0, ev.clientX - scrub.getBoundingClientRect().left - 40)}px`;
  });
  scrub.addEventListener("mouseleave", () => { thumb.hidden = true; });
  scrub.addEventListener("click", (ev) => { if (video) video.currentTime = at(ev); });
  scrub.addEventListener("keydown", (ev) => {
    if (!video) return;
    const step = ev.key === "ArrowRight" ? 5 : ev.key === "ArrowLeft" ? -5 : 0;
    if (!step) return;
    ev.preventDefault();
    video.currentTime = Math.max(0, Math.min(duration(), video.currentTime + step));
    show(video.currentTime);
  });
}

function setupLiveSearch(form) {
  // results follow the words as they are typed (the URL too); Enter still submits
  const results = document.getElementById("results");
  if (!results) return;
  let timer = null;
  let asked = 0;
  const refresh = () => {
    const params = new URLSearchParams(new FormData(form));
    for (const [k, v] of [...params]) if (!v) params.delete(k);
    const url = `/search?${params}`;
    const mine = ++asked;
    fetch(url, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : null))
      .then((html) => {
        if (!html || mine !== asked) return;
        const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("results");
        if (!fresh) return;
        results.innerHTML = fresh.innerHTML;
        history.replaceState(null, "", url);
      });
  };
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("figure.player").forEach(setupPlayer);
  document.querySelectorAll("form.search").forEach(setupLiveSearch);
});

// Alerts page: a browser notification for each new match, where the user allows it.
function watchAlertMatches() {
  const section = document.querySelector("[data-alert-matches]");
  if (!section || !("Notification" in window)) return;
  const button = document.getElementById("notify-me");
  const url = section.dataset.alertMatches;
  const newest = () => Math.max(0, ...[...section.querySelectorAll("[data-match-id]")].map((li) => +li.dataset.matchId));
  let seen = Math.max(newest(), +(localStorage.getItem("ortak-alert-seen") || 0));
  async function poll() {
    try {
      const r = await fetch(url + "?limit=20", { credentials: "same-origin" });
      if (!r.ok) return;
      const fresh = (await r.json()).matches.filter((m) => m.id > seen).reverse();
      for (const m of fresh) {
        const n = new Notification(m.alert, { body: m.title || m.item_id, tag: "ortak-" + m.id });
        n.onclick = () => { window.location.href = "/items/" + encodeURIComponent(m.item_id); };
        seen = Math.max(seen, m.id);
      }
      localStorage.setItem("ortak-alert-seen", String(seen));
    } catch (e) { /* offline for a moment: the next poll tries again */ }
  }
  function start() { if (button) button.hidden = true; setInterval(poll, 30000); }
  if (Notification.permission === "granted") start();
  else if (Notification.permission !== "denied" && button) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      if ((await Notification.requestPermission()) === "granted") start();
    });
  }
}
document.addEventListener("DOMContentLoaded", watchAlertMatches);
