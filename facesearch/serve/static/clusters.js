// facesearch clusters page: each cluster as a row of face thumbnails with a name field.
// ($, the token field and api() are in common.js, loaded first)
"use strict";
onTokenChange(() => load());

async function thumbnail(img, faceId) {
  // fetched with the token (an <img src> cannot send it), shown from a blob URL
  const response = await fetch(`/v1/library/faces/${faceId}/thumbnail`, { headers: authHeaders() });
  if (response.ok) img.src = URL.createObjectURL(await response.blob());
  else img.alt = "(no file)";
}

function row(cluster) {
  const div = document.createElement("div");
  div.className = "cluster";
  const title = document.createElement("h3");
  title.textContent = `cluster ${cluster.cluster}` + (cluster.name ? `: ${cluster.name}` : "") +
    ` (${cluster.faces.length} faces)`;
  const faces = document.createElement("div");
  faces.className = "faces";
  for (const face of cluster.faces.slice(0, 12)) {
    const img = document.createElement("img");
    img.title = `${face.photo} face ${face.face}`;
    faces.appendChild(img);
    thumbnail(img, face.id);
  }
  const form = document.createElement("form");
  const name = document.createElement("input");
  name.placeholder = "name";
  name.value = cluster.name || "";
  const button = document.createElement("button");
  button.textContent = "name";
  form.append(name, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const done = await api("POST", `/v1/clusters/${cluster.cluster}/name`, JSON.stringify({ name: name.value }),
                             { "Content-Type": "application/json" });
      $("status").textContent = `cluster ${done.cluster} enrolled as ${done.identity}: ${done.added} photos added`;
      load();
    } catch (error) {
      $("status").textContent = "error: " + error.message;
    }
  });
  div.append(title, faces, form);
  return div;
}

async function load() {
  try {
    const data = await api("GET", "/v1/clusters");
    $("clusters").replaceChildren(...data.clusters.map(row));
    $("status").textContent = `${data.clusters.length} clusters`;
  } catch (error) {
    $("status").textContent = "error: " + error.message;
  }
}

load();
