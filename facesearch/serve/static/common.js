// Shared by the web pages (index.html, clusters.html): $, the token field (kept in
// localStorage) and api(), which sends the token with every call.
"use strict";
const $ = (id) => document.getElementById(id);
const tokenInput = $("token");
tokenInput.value = localStorage.getItem("facesearch-token") || "";

function onTokenChange(reload) {
  tokenInput.addEventListener("change", () => {
    localStorage.setItem("facesearch-token", tokenInput.value);
    reload();
  });
}

function authHeaders() {
  return tokenInput.value ? { "Authorization": "Bearer " + tokenInput.value } : {};
}

async function api(method, path, body, headers = {}) {
  const response = await fetch(path, { method, headers: { ...authHeaders(), ...headers }, body });
  if (response.status === 204) return null;
  const data = await response.json();
  if (!response.ok) throw new Error(data.error ? data.error.message : response.statusText);
  return data;
}
