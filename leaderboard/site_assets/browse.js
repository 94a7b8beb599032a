// Failure browser keyboard navigation: j / ArrowRight / ArrowDown = next, k / ArrowLeft / ArrowUp = previous.
(function () {
  "use strict";
  document.querySelectorAll(".sw[data-c]").forEach(function (el) { el.style.backgroundColor = el.getAttribute("data-c"); });
  var cards = Array.prototype.slice.call(document.querySelectorAll("a.card"));
  function go(step) {
    if (cards.length) {
      var at = cards.indexOf(document.activeElement);
      var next = at < 0 ? 0 : Math.max(0, Math.min(cards.length - 1, at + step));
      cards[next].focus();
      return;
    }
    var link = document.querySelector(step > 0 ? 'link[rel="next"]' : 'link[rel="prev"]');
    if (link) { window.location.href = link.getAttribute("href"); }
  }
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) { return; }
    var key = event.key;
    if (key === "j" || key === "ArrowRight" || key === "ArrowDown") { event.preventDefault(); go(1); }
    else if (key === "k" || key === "ArrowLeft" || key === "ArrowUp") { event.preventDefault(); go(-1); }
    else if (key === "u" && !cards.length) {
      var up = document.querySelector('link[rel="index"]');
      if (up) { window.location.href = up.getAttribute("href"); }
    }
  });
})();
