// Inpaint: show an image at the model's resolution, paint a mask over it, fill it with a job.
"use strict";
const ip = document.getElementById("inpaint"), api = ip.dataset.api;
const $ = (id) => document.getElementById(id), status = $("status");
const imageCanvas = $("image"), maskCanvas = $("mask"), mctx = maskCanvas.getContext("2d");
let imageBlob = null;

// Until an image is chosen the canvas says what to do (no empty frame).
(() => {
  const ctx = imageCanvas.getContext("2d");
  const w = imageCanvas.width, h = imageCanvas.height;
  ctx.fillStyle = "#f8fafc"; ctx.fillRect(0, 0, w, h);
  ctx.strokeStyle = "#cbd5e1"; ctx.lineWidth = 2; ctx.setLineDash([6, 4]); ctx.strokeRect(1, 1, w - 2, h - 2);
  ctx.fillStyle = "#64748b"; ctx.font = "15px system-ui, sans-serif"; ctx.textAlign = "center";
  ctx.fillText("Choose a generated image", w / 2, h / 2 - 10);
  ctx.fillText("or a photo above", w / 2, h / 2 + 12);
})();

async function useBlob(blob) {
  imageBlob = blob;
  const bmp = await createImageBitmap(blob);
  const ctx = imageCanvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(bmp, 0, 0, imageCanvas.width, imageCanvas.height);
  mctx.clearRect(0, 0, maskCanvas.width, maskCanvas.height);
  ip.dataset.ready = "1";
}

async function fetchBlob(url, options, label) {
  const r = await ganforge.request(url, options, label);
  if (!r.ok) throw new Error((await r.json().catch(() => ({}))).error || r.statusText);
  return r.blob();
}

$("source-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    ganforge.say(status, "rendering…");
    await useBlob(await fetchBlob(api + "/image.png?" + new URLSearchParams({ seed: $("seed").value }), {}, "rendering…"));
    ganforge.say(status, "");
  }
  catch (err) { ganforge.say(status, err.message, true); }
});

$("photo").addEventListener("change", async () => {
  const form = new FormData(); form.append("image", $("photo").files[0]);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  try {
    ganforge.say(status, "uploading the photo…");
    await useBlob(await fetchBlob(api + "/photo.png", { method: "POST", body: form, headers: { "X-CSRF-Token": csrf } },
                                  "uploading the photo…"));
    ganforge.say(status, "");
  }
  catch (err) { ganforge.say(status, err.message, true); }
});

// Painting: strokes between successive pointer positions; the mask sent is where anything was painted.
let last = null;
function paint(e) {
  if (!last) return;
  const r = maskCanvas.getBoundingClientRect();
  const x = (e.clientX - r.left) * maskCanvas.width / r.width, y = (e.clientY - r.top) * maskCanvas.height / r.height;
  Object.assign(mctx, { strokeStyle: "rgb(255, 64, 64)", lineWidth: Number($("brush").value), lineCap: "round", lineJoin: "round" });
  mctx.beginPath(); mctx.moveTo(last.x, last.y); mctx.lineTo(x, y); mctx.stroke();
  last = { x, y };
}
maskCanvas.addEventListener("pointerdown", (e) => {
  const r = maskCanvas.getBoundingClientRect();
  last = { x: (e.clientX - r.left) * maskCanvas.width / r.width, y: (e.clientY - r.top) * maskCanvas.height / r.height };
  paint(e);
});
maskCanvas.addEventListener("pointermove", paint);
window.addEventListener("pointerup", () => { last = null; });
$("clear").addEventListener("click", () => mctx.clearRect(0, 0, maskCanvas.width, maskCanvas.height));

function maskBlob() {
  const out = document.createElement("canvas");
  out.width = maskCanvas.width; out.height = maskCanvas.height;
  const octx = out.getContext("2d"), src = mctx.getImageData(0, 0, out.width, out.height), dst = octx.createImageData(out.width, out.height);
  for (let i = 0; i < src.data.length; i += 4) {
    const v = src.data[i + 3] > 0 ? 255 : 0;
    dst.data[i] = dst.data[i + 1] = dst.data[i + 2] = v; dst.data[i + 3] = 255;
  }
  octx.putImageData(dst, 0, 0);
  return new Promise((res) => out.toBlob(res, "image/png"));
}

$("fill").addEventListener("click", async () => {
  if (!imageBlob) { ganforge.say(status, "choose an image first", true); return; }
  const form = new FormData();
  form.append("image", imageBlob, "image.png"); form.append("mask", await maskBlob(), "mask.png");
  form.append("steps", $("steps").value);
  if ($("space")) form.append("space", $("space").value);
  try {
    ganforge.say(status, "uploading…");
    const job = await ganforge.waitJob(await ganforge.post(api + "/inpaint", form), ganforge.jobProgress($("progress"), status));
    await ganforge.showImage($("result"), job.result_url, status);
    ganforge.say(status, "done");
  } catch (err) { ganforge.say(status, err.message, true); }
});
