// Morph: keyframes (seeds, embedded photos) -> a GIF/MP4 made by a job; preview and download.
"use strict";
const m = document.getElementById("morph"), api = m.dataset.api;
const $ = (id) => document.getElementById(id), status = $("status");

const showProgress = ganforge.jobProgress($("progress"), status);

$("photo").addEventListener("change", async () => {
  const file = $("photo").files[0];
  if (!file) return;
  const form = new FormData(); form.append("image", file); form.append("steps", "150");
  if ($("space")) form.append("space", $("space").value);
  try {
    ganforge.say(status, "embedding the photo…");
    const job = await ganforge.waitJob(await ganforge.post(api + "/embed", form, "uploading the photo…"), showProgress);
    $("keys").value = ($("keys").value ? $("keys").value + ", " : "") + job.data.latent;
    ganforge.say(status, "photo added as " + job.data.latent);
  } catch (e) { ganforge.say(status, e.message, true); }
});

$("morph-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = {
    keys: $("keys").value.split(",").map((s) => s.trim()).filter(Boolean),
    frames: Number($("frames").value), mode: $("mode").value, loop: $("loop").checked, format: $("format").value,
  };
  if ($("space")) body.space = $("space").value;
  ganforge.say(status, "starting the morph…");
  try {
    const job = await ganforge.waitJob(await ganforge.post(api + "/morph", body), showProgress);
    const url = job.result_url, box = $("preview");
    box.innerHTML = "";
    const media = body.format === "gif" ? document.createElement("img") : document.createElement("video");
    Object.assign(media, { src: url, className: "morph", alt: "morph preview" });
    if (body.format === "mp4") Object.assign(media, { autoplay: true, loop: true, muted: true, controls: true });
    const link = Object.assign(document.createElement("a"), { href: url + "?download=1", textContent: "Download " + body.format.toUpperCase() });
    link.id = "download";
    box.append(media, document.createElement("br"), link);
    ganforge.say(status, `done: ${job.data.frames} frames`);
    m.dataset.done = String(Number(m.dataset.done || 0) + 1);
  } catch (e) { ganforge.say(status, e.message, true); }
});
