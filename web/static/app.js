// Copy link / quote, player seeking and line highlighting. Search works without this file.
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

function plainQuote(text, title, time, link, speaker) {
  const who = speaker ? `${speaker}: ` : "";
  return `${who}“${text.trim()}” (${title}, ${time}) ${link}`.trim();
}

function markdownQuote(text, title, time, link, speaker) {
  const who = speaker ? `**${speaker}:** ` : "";
  const body = (who + text.trim()).split(/\n+/).map((l) => `> ${l}`).join("\n");
  const where = link ? `[${time}](${link})` : time;
  return `${body}\n>\n> (${title}, ${where})`;
}

// Where a copy button's data lives: a search hit, a transcript line, or the link maker.
function context(button) {
  const hit = button.closest(".hit");
  if (hit) {
    return { link: hit.dataset.link, title: hit.dataset.title, time: hit.dataset.time, text: hit.dataset.text, speaker: hit.dataset.speaker };
  }
  const seg = button.closest(".seg");
  if (seg) {
    const page = document.querySelector(".episode-page");
    return {
      link: seg.dataset.link, title: page.dataset.title, time: clock(parseFloat(seg.dataset.start)),
      text: seg.querySelector(".text").textContent, speaker: seg.dataset.speaker,
    };
  }
  const result = button.closest("[data-link]");
  return { link: result ? result.dataset.link : "", title: "", time: "", text: "" };
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  const c = context(button);
  if (button.classList.contains("copy-link")) copy(c.link);
  else if (button.classList.contains("copy-quote")) copy(plainQuote(c.text, c.title, c.time, c.link, c.speaker));
  else if (button.classList.contains("copy-md")) copy(markdownQuote(c.text, c.title, c.time, c.link, c.speaker));
});

// ---- episode page ----------------------------------------------------------------------

function setupEpisode() {
  const page = document.querySelector(".episode-page");
  if (!page) return;
  const audio = document.getElementById("player");
  const yt = document.getElementById("player-yt");
  const lines = Array.from(document.querySelectorAll(".transcript .seg"));
  const ends = lines.map((l) => parseFloat(l.dataset.end));

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
    lines.forEach((l) => l.classList.remove("current"));
    line.classList.add("current");
  }

  page.addEventListener("click", (event) => {
    const link = event.target.closest("a.time");
    if (!link || !(audio || yt)) return;
    event.preventDefault();
    const t = parseFloat(link.dataset.t);
    history.replaceState(null, "", `?t=${link.dataset.t}#${link.closest(".seg").id}`);
    seek(t);
  });

  if (audio) {
    audio.addEventListener("timeupdate", () => highlight(audio.currentTime));
    const start = parseFloat(page.dataset.start || "0");
    if (start > 0) {
      const go = () => { audio.currentTime = start; highlight(start); };
      if (audio.readyState >= 1) go(); else audio.addEventListener("loadedmetadata", go, { once: true });
    }
  }
  const current = document.querySelector(".seg.current");
  if (current && parseFloat(page.dataset.start || "0") > 0) current.scrollIntoView({ block: "center" });

  // Quote a selection of several lines: the text, the start-end time and a link to the start.
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
      const label = who && who !== voice ? `${who}: ` : "";
      voice = who || voice;
      return label + line;
    }).join(" ");
    const from = parseFloat(first.dataset.start), to = parseFloat(last.dataset.end);
    return { text, time: `${clock(from)}–${clock(to)}`, link: first.dataset.link, title: page.dataset.title, lines: picked.length };
  }
  document.addEventListener("selectionchange", () => {
    if (actions) actions.hidden = !selected();
  });
  function copySelection(markdown) {
    const s = selected();
    if (!s) return;
    copy(markdown ? markdownQuote(s.text, s.title, s.time, s.link) : plainQuote(s.text, s.title, s.time, s.link));
  }
  document.getElementById("copy-selection")?.addEventListener("click", () => copySelection(false));
  document.getElementById("copy-selection-md")?.addEventListener("click", () => copySelection(true));
}

document.addEventListener("DOMContentLoaded", setupEpisode);
