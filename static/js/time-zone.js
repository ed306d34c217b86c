// @ts-check
// A datetime-local picker has no time zone: each hidden [data-time-zone-for] field gets the
// browser's zone (IANA name), which the server reads the picked time in, and the picker's help
// line says which zone that is. Without this script the server reads the time in UTC, as the
// help line then says.
for (const field of document.querySelectorAll("input[data-time-zone-for]")) {
  if (!(field instanceof HTMLInputElement)) continue;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone) continue;
  if (!field.value) field.value = zone;
  const help = document.getElementById(`${field.dataset.timeZoneFor}_helptext`);
  if (help) help.textContent = `Time zone: ${field.value} (your device's).`;
}
