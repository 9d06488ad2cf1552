// Drag a booked appointment to a free time of its column in the calendar's time grid.
//
// A drop moves nothing by itself: it opens the same move page as the keyboard "Move" links
// (/appointments/<id>/move/?date=&time=), which shows the new time, warns first when the new day
// leaves the protocol window, and moves only when the person confirms there. Without JavaScript
// the Move links and the free-slot links do the same (a static file: no inline script, strict CSP).
(() => {
  const grid = document.getElementById("time-grid");
  if (!grid) return;
  let dragged = null;

  const element = (node) => (node && node.nodeType === 1 ? node : node && node.parentElement);

  const targets = () =>
    dragged
      ? grid.querySelectorAll(`td.free[data-date][data-column="${CSS.escape(dragged.dataset.column)}"]`)
      : [];

  const dropCell = (event) => {
    if (!dragged) return null;
    const el = element(event.target);
    const cell = el && el.closest("td.free[data-date]");
    return cell && cell.dataset.column === dragged.dataset.column ? cell : null;
  };

  const clearHover = () => {
    grid.querySelectorAll("td.drop-hover").forEach((c) => c.classList.remove("drop-hover"));
  };

  grid.addEventListener("dragstart", (event) => {
    const el = element(event.target);
    const box = el && el.closest("[data-move-url]");
    if (!box) return;
    dragged = box;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", box.dataset.moveUrl);
    box.classList.add("dragging");
    targets().forEach((c) => c.classList.add("drop-ok"));
  });

  grid.addEventListener("dragover", (event) => {
    const cell = dropCell(event);
    if (!cell) return;
    event.preventDefault(); // this cell accepts the drop
    event.dataTransfer.dropEffect = "move";
    if (!cell.classList.contains("drop-hover")) {
      clearHover();
      cell.classList.add("drop-hover");
    }
  });

  grid.addEventListener("drop", (event) => {
    const cell = dropCell(event);
    if (!cell) return;
    event.preventDefault();
    const url = new URL(dragged.dataset.moveUrl, window.location.href);
    url.searchParams.set("date", cell.dataset.date);
    url.searchParams.set("time", cell.dataset.time);
    window.location.assign(url.toString());
  });

  grid.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("dragging");
    grid.querySelectorAll("td.drop-ok").forEach((c) => c.classList.remove("drop-ok"));
    clearHover();
    dragged = null;
  });
})();
