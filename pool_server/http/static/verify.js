// Ortak /verify: hash a local file in the browser, in chunks, and ask the pool whether it
// published those bytes. The file is read with File.slice; it is never uploaded.
//
// SHA-256 over a whole file cannot be fed to WebCrypto piece by piece (crypto.subtle.digest
// takes one buffer), so: files up to WHOLE_LIMIT are read in chunks into one buffer and
// hashed by WebCrypto; larger ones stream their chunks through @noble/hashes' incremental
// SHA-256 (vendored from npm), so memory stays at one chunk whatever the file's size.
import { sha256 } from "./vendor/noble-hashes-1.8.0/sha2.js";

const CHUNK = 8 * 1024 * 1024;
const WHOLE_LIMIT = 64 * 1024 * 1024;

function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function hashFile(file, progress) {
  if (file.size <= WHOLE_LIMIT && globalThis.crypto && crypto.subtle) {
    const whole = new Uint8Array(file.size);
    for (let at = 0; at < file.size; at += CHUNK) {
      whole.set(new Uint8Array(await file.slice(at, at + CHUNK).arrayBuffer()), at);
      progress(Math.min(at + CHUNK, file.size) / Math.max(file.size, 1));
    }
    return hex(await crypto.subtle.digest("SHA-256", whole));
  }
  const h = sha256.create();
  for (let at = 0; at < file.size; at += CHUNK) {
    h.update(new Uint8Array(await file.slice(at, at + CHUNK).arrayBuffer()));
    progress(Math.min(at + CHUNK, file.size) / file.size);
  }
  return hex(h.digest());
}

function line(parent, text, cls) {
  const p = document.createElement("p");
  p.textContent = text;
  if (cls) p.className = cls;
  parent.appendChild(p);
  return p;
}

async function check(file) {
  const out = document.getElementById("verify-result");
  const bar = document.getElementById("verify-progress");
  const say = out.dataset;
  out.replaceChildren();
  line(out, `${file.name}: ${say.hashing}`);
  bar.hidden = false;
  const digest = await hashFile(file, (f) => { bar.value = f; });
  out.replaceChildren();
  line(out, `${file.name} · SHA-256 ${digest}`).id = "verify-sha256";
  let answer;
  try {
    const r = await fetch(`/api/v1/verify/${digest}`, { headers: { accept: "application/json" } });
    answer = await r.json();
    if (!r.ok) throw new Error(answer.error || r.status);
  } catch (e) {
    line(out, `${say.error}: ${e.message}`, "bad");
    return;
  }
  if (!answer.published) {
    line(out, say.unknown, "bad").id = "verify-verdict";
    return;
  }
  line(out, say.published, "ok").id = "verify-verdict";
  const list = document.createElement("ul");
  for (const it of answer.items) {
    const li = document.createElement("li");
    const sig = it.pool_signature.verified ? say.verified : say.unverified;
    li.textContent = `${it.item} v${it.version} · ${it.file} · ${it.contributed_by} · ` +
      `${it.uploaded || ""} · ${sig}` +
      (it.pool_signature.key ? ` (${it.pool_signature.key})` : "") +
      ` · ${it.member_signature.status}` +
      (it.member_signature.key ? ` (${it.member_signature.key})` : "");
    list.appendChild(li);
  }
  out.appendChild(list);
}

const input = document.getElementById("verify-file");
const drop = document.getElementById("verify-drop");
input.addEventListener("change", () => { if (input.files[0]) check(input.files[0]); });
for (const ev of ["dragenter", "dragover"]) {
  drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
}
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files[0]) check(e.dataTransfer.files[0]);
});
