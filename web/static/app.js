// Copy link / clip / quote / embed, player seeking and line highlighting. Search works without this file.
"use strict";

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return `${h}:${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}`;
}

function toast(message) {
  const el = document.getElementById("toast");
  if (!el) return;
  el.textContent = message;
  el.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove("show"), 1800);
}

async function copy(text) {
  if (!text) return;
  try {
    await navigator.clipboard.writeText(text);
  } catch (err) {
    // Old browsers and non-secure origins: fall back to a hidden textarea.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  window.lastCopied = text;
  toast("Copied");
}

const AUTOMATIC_NOTE = "Automatic transcript, check against the audio.";

// The same forms as indexer/export.py `citation` (the server writes them for search hits).
function citation(c) {
  const words = c.text.replace(/\s+/g, " ").trim();
  const when = c.end && c.end > c.start ? `${clock(c.start)}–${clock(c.end)}` : clock(c.start);
  const media = c.media && c.media !== c.link ? c.media : "";
  const who = c.speaker ? `${c.speaker}: ` : "";
  const source = [c.show, c.title ? `“${c.title}”` : "", c.published].filter(Boolean);
  let plain = `${who}“${words}” — ${[...source, when].join(", ")}.`;
  if (c.link) plain += ` ${c.link}`;
  if (media) plain += ` (audio: ${media})`;
  if (c.automatic) plain += ` ${AUTOMATIC_NOTE}`;
  const mdSource = [c.show, c.title ? `*${c.title}*` : "", c.published].filter(Boolean);
  const mdWhen = c.link ? `[${when}](${c.link})` : when;
  const tail = [[...mdSource, mdWhen].join(", ")];
  if (media) tail.push(`[audio](${media})`);
  if (c.automatic) tail.push(`_${AUTOMATIC_NOTE}_`);
  const markdown = `> ${c.speaker ? `**${c.speaker}:** ` : ""}${words}\n>\n> — ${tail.join(" · ")}`;
  return { plain, markdown };
}

// ---- links of an episode page ------------------------------------------------------------

const page = () => document.querySelector(".episode-page");

function originalLink(seg, seconds) {
  const p = page();
  if (seg && seg.dataset.link) return seg.dataset.link;
  const template = p.dataset.linkTemplate;
  return template ? template.replace("{t}", String(Math.floor(seconds))) : "";
}

// A media file's own range link (#t=a,b), as links.range_link writes it.
function mediaRange(start, end) {
  const media = page().dataset.media;
  if (!media || !/^(https?|file):/.test(media)) return "";
  const base = media.split("#")[0];
  return end ? `${base}#t=${Math.floor(start)},${Math.ceil(end)}` : `${base}#t=${Math.floor(start)}`;
}

function clipUrl(start, end) {
  const p = page();
  const url = new URL(`/episodes/${p.dataset.id}`, location.origin);
  url.searchParams.set("t", start.toFixed(2));
  if (end) url.searchParams.set("end", end.toFixed(2));
  return url.href;
}

function embedSnippet(start, end) {
  const p = page();
  const url = new URL(`/embed/${p.dataset.id}`, location.origin);
  url.searchParams.set("t", start.toFixed(2));
  if (end) url.searchParams.set("end", end.toFixed(2));
  const esc = (s) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  const height = p.dataset.video ? 360 : 180;
  return `<iframe src="${esc(url.href)}" width="560" height="${height}" title="${esc(p.dataset.title)}" ` +
    'style="border:0;max-width:100%" allow="autoplay; encrypted-media" loading="lazy" ' +
    'referrerpolicy="strict-origin-when-cross-origin"></iframe>';
}

function pageCitation(text, start, end, speaker, seg) {
  const p = page();
  const publisher = p.dataset.page ? originalLink(seg, start) : "";
  const media = mediaRange(start, end);
  return citation({
    text, start, end, speaker, title: p.dataset.title, show: p.dataset.show, published: p.dataset.published,
    link: publisher || media, media: publisher ? media : "", automatic: Boolean(p.dataset.automatic),
  });
}

// What a copy button copies: from a search hit, a transcript line, or the link maker.
function payload(button) {
  const hit = button.closest(".hit, .result");
  if (hit) {
    const d = hit.dataset;
    return { link: d.link, clip: d.clip, quote: d.quote, md: d.quoteMd, embed: d.embed };
  }
  const seg = button.closest(".seg");
  if (seg) {
    const start = parseFloat(seg.dataset.s), end = parseFloat(seg.dataset.e);
    const text = seg.querySelector(".text").textContent;
    const cite = pageCitation(text, start, end, seg.dataset.speaker, seg);
    return { link: originalLink(seg, start) || clipUrl(start), clip: clipUrl(start, end), quote: cite.plain,
             md: cite.markdown, embed: embedSnippet(start, end) };
  }
  return {};
}

// ---- editors: correct a line in place ------------------------------------------------------

function editLine(seg) {
  if (seg.querySelector("form.fix")) return;
  const text = seg.querySelector(".text");
  const form = document.createElement("form");
  form.className = "fix";
  const area = document.createElement("textarea");
  area.value = text.textContent;
  area.setAttribute("aria-label", `Correct the line at ${seg.querySelector(".time").textContent}`);
  area.rows = 2;
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = "Save correction";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.textContent = "Cancel";
  form.append(area, save, cancel);
  text.hidden = true;
  text.after(form);
  area.focus();
  cancel.addEventListener("click", () => { form.remove(); text.hidden = false; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = new FormData();
    body.set("t", seg.dataset.s);
    body.set("text", area.value);
    body.set("csrf_token", document.querySelector("meta[name=csrf-token]")?.content || "");
    const r = await fetch(`/episodes/${page().dataset.id}/correct`, {
      method: "POST", body, headers: { Accept: "application/json" }, credentials: "same-origin",
    });
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) { toast(answer.message || "Not saved"); return; }
    text.textContent = answer.correction.text;
    form.remove();
    text.hidden = false;
    seg.classList.add("corrected");
    if (!seg.querySelector(".badge.fixed")) {
      const badge = document.createElement("span");
      badge.className = "badge fixed";
      badge.textContent = "corrected by an editor";
      text.after(" ", badge);
    }
    toast("Saved: searchable now");
  });
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  if (button.classList.contains("edit-line")) { editLine(button.closest(".seg")); return; }
  const p = payload(button);
  if (button.classList.contains("copy-link")) copy(p.link);
  else if (button.classList.contains("copy-clip")) copy(p.clip);
  else if (button.classList.contains("copy-quote")) copy(p.quote);
  else if (button.classList.contains("copy-md")) copy(p.md);
  else if (button.classList.contains("copy-embed")) copy(p.embed);
});

// ---- episode page ----------------------------------------------------------------------

function setupEpisode() {
  const p = page();
  if (!p) return;
  const audio = document.getElementById("player");
  const yt = document.getElementById("player-yt");
  let lines = Array.from(document.querySelectorAll(".transcript .seg"));
  let ends = lines.map((l) => parseFloat(l.dataset.e));
  const now = document.getElementById("now");
  let stopAt = p.dataset.end ? parseFloat(p.dataset.end) : null;

  function seek(t) {
    if (audio) {
      audio.currentTime = t;
      audio.play().catch(() => {});
    } else if (yt) {
      yt.contentWindow.postMessage(JSON.stringify({ event: "command", func: "seekTo", args: [t, true] }), "*");
      yt.contentWindow.postMessage(JSON.stringify({ event: "command", func: "playVideo", args: [] }), "*");
    }
    highlight(t);
  }

  // The line being spoken at t, or the next one during a pause (as the server marks it).
  function lineAt(t) {
    let lo = 0, hi = ends.length - 1, found = ends.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (ends[mid] > t) { found = mid; hi = mid - 1; } else lo = mid + 1;
    }
    return lines[found];
  }

  function highlight(t) {
    if (!lines.length) return;
    const line = lineAt(t);
    if (line.classList.contains("current")) return;
    const old = document.querySelector(".seg.current");
    if (old) { old.classList.remove("current"); old.removeAttribute("aria-current"); }
    line.classList.add("current");
    line.setAttribute("aria-current", "true");
    if (now) now.textContent = `${line.querySelector(".time").textContent}: ${line.querySelector(".text").textContent}`;
  }

  // One set of line buttons, moved to the line under the pointer or keyboard focus (a
  // 4-hour transcript would otherwise carry some 14,000 buttons).
  const tools = document.getElementById("line-actions");
  function showTools(seg) {
    if (!tools || !seg || tools.parentElement === seg) return;
    seg.appendChild(tools);
    tools.hidden = false;
  }
  p.addEventListener("mouseover", (event) => showTools(event.target.closest(".seg")));
  p.addEventListener("focusin", (event) => showTools(event.target.closest(".seg")));

  p.addEventListener("click", (event) => {
    const link = event.target.closest("a.time");
    if (!link || !(audio || yt)) return;
    event.preventDefault();
    const seg = link.closest(".seg");
    history.replaceState(null, "", `?t=${seg.dataset.s}#${seg.id}`);
    stopAt = null;
    seek(parseFloat(seg.dataset.s));
  });

  if (audio) {
    audio.addEventListener("timeupdate", () => {
      if (stopAt !== null && audio.currentTime >= stopAt) {
        audio.pause();
        audio.currentTime = stopAt;
        stopAt = null;
        toast("End of the clip");
      }
      highlight(audio.currentTime);
    });
    const start = parseFloat(p.dataset.start || "0");
    if (start > 0) {
      const go = () => { audio.currentTime = start; highlight(start); };
      if (audio.readyState >= 1) go(); else audio.addEventListener("loadedmetadata", go, { once: true });
    }
  }
  document.getElementById("play-on")?.addEventListener("click", () => {
    stopAt = null;
    document.getElementById("clip-note")?.remove();
    audio?.play().catch(() => {});
  });
  const current = document.querySelector(".seg.current");
  if (current && parseFloat(p.dataset.start || "0") > 0) current.scrollIntoView({ block: "center" });

  // A long transcript came with the lines around ?t= only: fetch the rest, after, then before
  // (the browser keeps the view where it is when lines go in above it).
  const list = document.querySelector("ol.transcript");
  async function rest() {
    const first = parseInt(list.dataset.first || "0", 10), last = parseInt(list.dataset.last || "0", 10);
    const total = parseInt(list.dataset.total || "0", 10);
    const fetchLines = async (from, to) => {
      const r = await fetch(`/episodes/${p.dataset.id}/lines?from=${from}&to=${to}`);
      if (!r.ok) throw new Error(`lines ${from}-${to}: ${r.status}`);
      return r.text();
    };
    if (last < total) list.insertAdjacentHTML("beforeend", await fetchLines(last, total));
    if (first > 0) list.insertAdjacentHTML("afterbegin", await fetchLines(0, first));
    list.dataset.first = "0";
    list.dataset.last = String(total);
    lines = Array.from(list.querySelectorAll(".seg"));
    ends = lines.map((l) => parseFloat(l.dataset.e));
    document.getElementById("more-lines")?.remove();
  }
  if (list && (list.dataset.first !== "0" || list.dataset.last !== list.dataset.total)) {
    rest().catch(() => toast("Part of the transcript didn't load: use “Show the whole transcript”"));
  }

  // Quote a selection of several lines: the text, the start-end time and a clip of the range.
  const actions = document.getElementById("selection-actions");
  function selected() {
    const sel = window.getSelection();
    if (!sel || sel.isCollapsed || !sel.rangeCount) return null;
    const range = sel.getRangeAt(0);
    const picked = lines.filter((l) => range.intersectsNode(l));
    if (!picked.length) return null;
    const first = picked[0], last = picked[picked.length - 1];
    // Name the speaker wherever the voice changes, as a transcript in print does.
    let voice = "";
    const text = picked.map((l) => {
      const line = l.querySelector(".text").textContent.trim();
      const who = l.dataset.speaker || "";
      const label = who && who !== voice && picked.length > 1 ? `${who}: ` : "";
      voice = who || voice;
      return label + line;
    }).join(" ");
    const start = parseFloat(first.dataset.s), end = parseFloat(last.dataset.e);
    const speaker = picked.length === 1 ? first.dataset.speaker : "";
    return { text, start, end, speaker, first, lines: picked.length };
  }
  document.addEventListener("selectionchange", () => {
    if (!actions) return;
    const s = selected();
    actions.hidden = !s;
    if (s) actions.querySelector(".sel-count").textContent = `${s.lines} line${s.lines === 1 ? "" : "s"}, ${clock(s.start)}–${clock(s.end)}:`;
  });
  function onSelection(id, make) {
    document.getElementById(id)?.addEventListener("click", () => {
      const s = selected();
      if (s) copy(make(s));
    });
  }
  onSelection("copy-selection", (s) => pageCitation(s.text, s.start, s.end, s.speaker, s.first).plain);
  onSelection("copy-selection-md", (s) => pageCitation(s.text, s.start, s.end, s.speaker, s.first).markdown);
  onSelection("copy-selection-clip", (s) => clipUrl(s.start, s.end));
  onSelection("copy-selection-embed", (s) => embedSnippet(s.start, s.end));
}

// ---- embed page: play the range and stop at its end --------------------------------------

function setupEmbed() {
  const box = document.querySelector(".embed-page");
  const audio = document.getElementById("player");
  if (!box || !audio || !box.dataset.end) return;
  let end = parseFloat(box.dataset.end);
  audio.addEventListener("timeupdate", () => {
    if (end !== null && audio.currentTime >= end) { audio.pause(); audio.currentTime = end; end = null; }
  });
}

document.addEventListener("DOMContentLoaded", () => { setupEpisode(); setupEmbed(); });
