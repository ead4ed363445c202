// Embed: upload -> projection job with progress -> sliders on the found latent; children of two photos.
"use strict";
const em = document.getElementById("embed"), api = em.dataset.api;
const $ = (id) => document.getElementById(id), status = $("status");
const latents = [];

$("photo").addEventListener("change", () => {
  const f = $("photo").files[0];
  if (f) $("original").src = URL.createObjectURL(f);
  else $("original").removeAttribute("src");
});

$("embed-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData();
  form.append("image", $("photo").files[0]); form.append("steps", $("steps").value);
  if ($("space")) form.append("space", $("space").value);
  ganforge.say(status, "uploading the photo…");
  try {
    let job = await ganforge.post(api + "/embed", form, "uploading the photo…");
    job = await ganforge.waitJob(job, ganforge.jobProgress($("progress"), status));
    ganforge.say(status, `done: PSNR ${job.data.psnr.toFixed(1)} dB`);
    latents.push(job.data.latent);
    const thumb = Object.assign(document.createElement("img"), { src: job.result_url, className: "thumb", title: job.data.latent });
    if ($("none-embedded")) $("none-embedded").remove();
    $("embedded").append(thumb);
    $("child").disabled = latents.length < 2;
    ganforge.editor($("editor"), api, job.data.latent, 1, job.data.space);
  } catch (err) { ganforge.say(status, err.message, true); }
});

$("child").addEventListener("click", async () => {
  try {
    ganforge.say(status, "making the child…");
    const c = await ganforge.post(api + "/child", { a: latents.at(-2), b: latents.at(-1) });
    await ganforge.showImage($("child-image"), c.image_url, status);
  } catch (err) { ganforge.say(status, err.message, true); }
});
