// Translate: upload a photo, see it as the model sees it and in the other domain, download the result.
"use strict";
const tr = document.getElementById("translate"), api = tr.dataset.api;
const $ = (id) => document.getElementById(id), status = $("status");

// POST the form and answer a blob URL of the PNG reply (errors: the server's one line).
async function postImage(url, form, label) {
  const r = await ganforge.request(url, {
    method: "POST", body: form,
    headers: { "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content },
  }, label);
  if (!r.ok) {
    const data = await r.json().catch(() => ({ error: r.statusText }));
    throw new Error(data.error || r.statusText);
  }
  return URL.createObjectURL(await r.blob());
}

function show(img, url) {
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  return new Promise((res) => { img.onload = res; img.src = url; });
}

$("translate-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const photo = $("photo").files[0], direction = $("direction").value;
  if (!photo) return;
  const form = () => { const f = new FormData(); f.append("image", photo); f.append("direction", direction); return f; };
  ganforge.say(status, "translating…");
  try {
    const [input, output] = await Promise.all([postImage(api + "/input.png", form(), "uploading the photo…"),
                                               postImage(api, form(), "translating…")]);
    await Promise.all([show($("input"), input), show($("output"), output)]);
    const link = $("download");
    link.href = output; link.download = photo.name.replace(/\.[^.]*$/, "") + `-${direction}.png`; link.hidden = false;
    ganforge.say(status, `translated ${direction}`);
    tr.dataset.translated = String(Number(tr.dataset.translated || 0) + 1);
  } catch (err) { ganforge.say(status, err.message, true); }
});
