// The studio's small behaviours: price fields only for paid content, confirmations.
// An ES module loaded as a file (CSP forbids inline scripts); every page works without it.

for (const form of document.querySelectorAll(".content-form")) {
  const box = form.querySelector("[data-price-for]");
  const radios = form.querySelectorAll('input[name="access"]');
  if (!box || radios.length === 0) continue;
  const update = () => {
    const chosen = form.querySelector('input[name="access"]:checked');
    // A locked (disabled) choice still says which access the content has.
    box.hidden = chosen ? chosen.value !== box.dataset.priceFor : false;
  };
  for (const radio of radios) radio.addEventListener("change", update);
  update();
}

for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

for (const note of document.querySelectorAll("[data-noscript]")) note.hidden = true;

// On a phone the studio menu is a row that scrolls sideways: bring the current page into view.
const current = document.querySelector(".studio-nav [aria-current=page]");
const row = current?.closest("ul");
if (current && row && row.scrollWidth > row.clientWidth) {
  const offset = current.getBoundingClientRect().left - row.getBoundingClientRect().left;
  row.scrollLeft += offset - (row.clientWidth - current.offsetWidth) / 2;
}

// The cover picker says which file was chosen; choosing one unticks "Remove the cover".
for (const field of document.querySelectorAll("[data-cover-field]")) {
  const input = field.querySelector("[data-cover-input]");
  const chosen = field.querySelector("[data-cover-chosen]");
  const remove = field.querySelector("[data-cover-remove]");
  if (!input || !chosen) continue;
  input.addEventListener("change", () => {
    const file = input.files?.[0];
    chosen.textContent = file ? `Chosen: ${file.name} (saved with the form).` : "";
    if (file && remove) remove.checked = false;
  });
  remove?.addEventListener("change", () => {
    if (remove.checked) {
      input.value = "";
      chosen.textContent = "";
    }
  });
}
