// facesearch web page: search a photo (boxes + names drawn on it), list people, enrol a person.
// ($, the token field and api() are in common.js, loaded first)
"use strict";
onTokenChange(() => refresh());

function verdict(face) {
  if (face.quality && !face.quality.usable) return ["unusable face", "unknown"];
  if (face.accepted === true) return ["accepted", "accepted"];
  if (face.accepted === false) return ["unknown", "unknown"];
  return ["no threshold", "muted"];
}

function draw(image, faces) {
  const canvas = $("canvas");
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(image, 0, 0);
  const line = Math.max(2, Math.round(canvas.width / 200));
  ctx.font = `${Math.max(12, Math.round(canvas.width / 30))}px sans-serif`;
  faces.forEach((face, i) => {
    const [x1, y1, x2, y2] = face.box || [0, 0, canvas.width, canvas.height];
    const best = face.matches[0];
    const ok = face.accepted === true;
    ctx.strokeStyle = ok ? "#0a0" : "#e80";
    ctx.lineWidth = line;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const text = `${i + 1}. ${best ? best.identity + " " + best.score.toFixed(2) : "?"} ${verdict(face)[0]}`;
    const y = y1 > 20 ? y1 - 4 : y2 + 16;
    ctx.fillStyle = "rgba(0,0,0,.6)";
    ctx.fillRect(x1, y - 16, ctx.measureText(text).width + 6, 20);
    ctx.fillStyle = "#fff";
    ctx.fillText(text, x1 + 3, y);
  });
  canvas.hidden = false;
}

function list(faces) {
  const ol = $("faces");
  ol.replaceChildren();
  for (const face of faces) {
    const li = document.createElement("li");
    const best = face.matches[0];
    li.className = "face";
    li.dataset.identity = best ? best.identity : "";
    li.dataset.accepted = String(face.accepted);
    const [word, cls] = verdict(face);
    const name = document.createElement("strong");
    name.className = "identity";
    name.textContent = best ? best.identity : "(gallery is empty)";
    const tag = document.createElement("span");
    tag.className = cls;
    tag.textContent = " " + word;
    li.append(name, ` ${best ? best.score.toFixed(3) : ""}`, tag);
    const others = face.matches.slice(1).map((m) => `${m.identity} ${m.score.toFixed(3)}`).join(", ");
    if (others) li.append(document.createElement("br"), `then: ${others}`);
    ol.append(li);
  }
}

async function search(file) {
  $("search-error").textContent = "";
  $("faces").replaceChildren();
  const form = new FormData();
  form.append("image", file);
  const query = `k=${encodeURIComponent($("k").value || 3)}&all_faces=${$("all-faces").checked}`;
  try {
    const result = await api("POST", "/v1/search?" + query, form);
    const image = new Image();
    image.onload = () => { draw(image, result.faces); URL.revokeObjectURL(image.src); };
    image.src = URL.createObjectURL(file);
    list(result.faces);
    $("faces").dataset.done = "true";
  } catch (e) {
    $("search-error").textContent = e.message;
  }
}

async function refresh() {
  try {
    const health = await api("GET", "/v1/health");
    $("status").textContent = `${health.identities} identities, ${health.photos} photos (${health.encoder.arch})`;
    const people = await api("GET", "/v1/people");
    const body = $("people").tBodies[0];
    body.replaceChildren();
    for (const p of people.people) {
      const row = body.insertRow();
      row.dataset.identity = p.identity;
      row.insertCell().textContent = p.identity;
      row.insertCell().textContent = p.photos;
    }
    $("people-count").textContent = `(${people.people.length})`;
  } catch (e) {
    $("status").textContent = e.message;
  }
}

$("photo").addEventListener("change", (e) => { if (e.target.files[0]) search(e.target.files[0]); });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files[0]) search(e.dataTransfer.files[0]);
});

$("enrol").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = $("enrol-name").value.trim();
  const form = new FormData();
  for (const f of $("enrol-photos").files) form.append("image", f);
  try {
    const r = await api("POST", `/v1/people/${encodeURIComponent(name)}/photos`, form);
    $("enrol-result").textContent = `${r.identity}: ${r.added.length} photos added` +
      (r.existing.length ? `, ${r.existing.length} already enrolled` : "") +
      (r.unusable.length ? `, ${r.unusable.length} with an unusable face` : "");
    $("enrol").reset();
    refresh();
  } catch (err) {
    $("enrol-result").textContent = "error: " + err.message;
  }
});

refresh();
