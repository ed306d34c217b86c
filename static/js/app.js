// Site-wide behaviour. Loaded as a file (CSP forbids inline scripts).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const toggle = document.querySelector(".nav-toggle");
  const nav = document.getElementById("site-nav");
  if (toggle && nav) {
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") === "true";
      toggle.setAttribute("aria-expanded", String(!open));
      nav.classList.toggle("open", !open);
    });
  }

  // A secret shown masked (a password input) until its owner asks to see it.
  for (const button of document.querySelectorAll("[data-reveal-target]")) {
    const target = document.getElementById(button.dataset.revealTarget);
    if (!target) continue;
    const label = target.getAttribute("aria-label") || "";
    button.addEventListener("click", () => {
      const shown = target.type === "password";
      target.type = shown ? "text" : "password";
      target.setAttribute("aria-label", shown ? label.replace(" (hidden)", "") : label);
      button.setAttribute("aria-pressed", String(shown));
      button.textContent = shown ? "Hide" : "Show";
    });
  }

  for (const button of document.querySelectorAll("[data-copy-target]")) {
    button.addEventListener("click", async () => {
      const target = document.getElementById(button.dataset.copyTarget);
      if (!target) return;
      try {
        await navigator.clipboard.writeText(target.value || target.textContent);
        button.textContent = "Copied";
      } catch {
        target.select?.();
        button.textContent = "Press Ctrl+C";
      }
    });
  }
});
