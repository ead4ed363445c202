// Shared helpers for every page: CSRF-protected requests, job polling, messages, the busy indicator.
"use strict";

const ganforge = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  // The header's spinner: shown while any request made through these helpers is pending, with the
  // label of the newest one ("working…" when none was given).
  let pending = 0;
  async function busy(promise, label) {
    const box = document.getElementById("busy");
    pending += 1;
    if (box) { box.hidden = false; document.getElementById("busy-text").textContent = label || "working…"; }
    try { return await promise; } finally {
      pending -= 1;
      if (box && pending === 0) box.hidden = true;
    }
  }
  // label false: a background poll, no spinner.
  const request = (url, options, label) => {
    const pending = fetch(url, { credentials: "same-origin", ...options });
    return label === false ? pending : busy(pending, label);
  };

  // POST a JSON object or a FormData; resolves to the parsed JSON reply, rejects with its error message.
  async function post(url, body, label) {
    const isForm = body instanceof FormData;
    const r = await request(url, {
      method: "POST",
      headers: isForm ? { "X-CSRF-Token": csrf() } : { "X-CSRF-Token": csrf(), "Content-Type": "application/json" },
      body: isForm ? body : JSON.stringify(body || {}),
    }, label || (isForm ? "uploading…" : "working…"));
    const data = await r.json().catch(() => ({ error: r.statusText }));
    if (!r.ok) throw new Error(data.error || r.statusText);
    return data;
  }

  async function getJSON(url, label) {
    const r = await request(url, {}, label);
    const data = await r.json().catch(() => ({ error: r.statusText }));
    if (!r.ok) throw new Error(data.error || r.statusText);
    return data;
  }

  // Poll a job until it ends; onProgress(job) after every poll. Resolves to the finished job. The
  // spinner stays on for the whole job, labelled with its progress.
  async function waitJob(job, onProgress, interval = 500) {
    const label = (j) => `${j.kind}: ${j.status}` + (j.progress.total ? ` ${j.progress.step}/${j.progress.total}` : "");
    let wake;
    const done = busy(new Promise((res) => { wake = res; }), label(job));
    try {
      if (onProgress) onProgress(job);
      while (job.status === "queued" || job.status === "running") {
        await new Promise((res) => setTimeout(res, interval));
        job = await getJSON("/api/jobs/" + job.id, label(job));
        const text = document.getElementById("busy-text");
        if (text) text.textContent = label(job);
        if (onProgress) onProgress(job);
      }
    } finally { wake(); await done; }
    if (job.status !== "done") throw new Error(job.error || job.status);
    return job;
  }

  // A job's progress in a <progress> bar (shown from the first report on) and a status line.
  function jobProgress(bar, status) {
    return (j) => {
      bar.hidden = false;
      bar.max = j.progress.total || 1; bar.value = j.progress.step;
      say(status, `${j.status}` + (j.progress.total ? ` step ${j.progress.step}/${j.progress.total}` : "") +
        (j.progress.loss !== null && j.progress.loss !== undefined ? ` loss ${j.progress.loss.toFixed(4)}` : ""));
    };
  }

  function say(el, text, isError = false) {
    el.textContent = text;
    el.classList.toggle("error", isError);
  }

  // Fetch an image URL and show it in <img> (errors as text in `status`); resolves when shown.
  function showImage(img, url, status, label) {
    return busy((async () => {
      const r = await fetch(url, { credentials: "same-origin" });
      if (!r.ok) {
        const data = await r.json().catch(() => ({ error: r.statusText }));
        if (status) say(status, data.error || r.statusText, true);
        throw new Error(data.error);
      }
      const blob = await r.blob();
      if (img.dataset.blobUrl) URL.revokeObjectURL(img.dataset.blobUrl);
      img.dataset.blobUrl = URL.createObjectURL(blob);
      await new Promise((res) => { img.onload = res; img.src = img.dataset.blobUrl; });
      if (status) say(status, "");
    })(), label || "rendering…");
  }

  return { post, getJSON, waitJob, jobProgress, say, showImage, request };
})();

// Sliders along the run's editing directions for one latent key; the image re-renders as they move.
// Only one render is in flight; the latest slider position wins. `space`: z, w or w+ (a style-based
// run's; "" for the run's default).
ganforge.editor = async function (box, apiBase, key, psi = 1, space = "") {
  const inSpace = space ? { space } : {};
  box.innerHTML = "";
  const img = document.createElement("img");
  img.className = "edit-image"; img.alt = "selected image";
  const sliders = document.createElement("div");
  sliders.className = "sliders";
  const status = document.createElement("p");
  status.className = "meta";
  box.append(img, sliders, status);
  let dirs;
  try {
    // Found once per checkpoint; until then the server answers 202 with the search's progress.
    const dirsUrl = apiBase + "/directions?" + new URLSearchParams(inSpace);
    dirs = await ganforge.getJSON(dirsUrl);
    while (dirs.status === "running") {
      ganforge.say(status, `Finding the model's editing directions (once per checkpoint): ` +
                           `${Math.round(100 * dirs.done / dirs.total)} %`);
      await new Promise((res) => setTimeout(res, 500));
      dirs = await ganforge.getJSON(dirsUrl);
    }
    ganforge.say(status, "");
  }
  catch (e) { ganforge.say(status, e.message, true); return; }
  const values = new Array(dirs.k).fill(0);
  let busy = false, again = false;
  async function render() {
    if (busy) { again = true; return; }
    busy = true;
    const q = new URLSearchParams({ key, psi, edits: values.join(","), ...inSpace });
    try { await ganforge.showImage(img, apiBase + "/image.png?" + q, status); } catch (e) { /* shown */ }
    box.dataset.renders = String(Number(box.dataset.renders || 0) + 1);
    busy = false;
    if (again) { again = false; render(); }
  }
  dirs.names.forEach((name, i) => {
    const label = document.createElement("label");
    const input = Object.assign(document.createElement("input"), { type: "range", min: -5, max: 5, step: 0.25, value: 0 });
    input.className = "direction"; input.dataset.index = i;
    const out = document.createElement("output"); out.textContent = "0";
    input.addEventListener("input", () => { values[i] = Number(input.value); out.textContent = input.value; render(); });
    label.append(`#${i} (${(100 * dirs.explained_variance[i]).toFixed(1)} %) `, input, out);
    sliders.append(label);
  });
  render();
};
