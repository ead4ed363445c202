// Translate: an uploaded photo or a data-set image, as the model sees it and in the other domain; download it.
"use strict";
const tr = document.getElementById("translate"), api = tr.dataset.api;
const $ = (id) => document.getElementById(id), status = $("status");

// A PNG reply as a blob URL (errors: the server's one line). GET when `form` is absent.
async function fetchImage(url, form, label) {
  const options = form ? {
    method: "POST", body: form,
    headers: { "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content },
  } : {};
  const r = await ganforge.request(url, options, label);
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

// Both images at once, then the download link (named `name`).
async function translate(input, output, name) {
  const direction = $("direction").value;
  ganforge.say(status, "translating…");
  try {
    const [a, b] = await Promise.all([input, output]);
    await Promise.all([show($("input"), a), show($("output"), b)]);
    Object.assign($("download"), { href: b, download: `${name}-${direction}.png`, hidden: false });
    ganforge.say(status, `translated ${direction}`);
    tr.dataset.translated = String(Number(tr.dataset.translated || 0) + 1);
  } catch (err) { ganforge.say(status, err.message, true); }
}

$("translate-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const photo = $("photo").files[0];
  if (!photo) { ganforge.say(status, "choose a photo first", true); return; }
  const form = () => { const f = new FormData(); f.append("image", photo); f.append("direction", $("direction").value); return f; };
  translate(fetchImage(api + "/input.png", form(), "uploading the photo…"), fetchImage(api, form(), "translating…"),
            photo.name.replace(/\.[^.]*$/, ""));
});

$("use-data").addEventListener("click", () => {
  const q = { direction: $("direction").value, index: $("index").value };
  const url = (show) => api + "/data.png?" + new URLSearchParams({ ...q, show });
  translate(fetchImage(url("source")), fetchImage(url("translation"), null, "translating…"), `${q.direction[0]}${q.index}`);
});

// The index runs over the direction's source domain.
function limitIndex() {
  const count = Number($("direction").selectedOptions[0].dataset.count);
  if (count > 0) $("index").max = count - 1;
}
$("direction").addEventListener("change", limitIndex);
limitIndex();
