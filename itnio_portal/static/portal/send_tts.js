// Live character counter for the TTS text: the limit depends on the language (itnio-api.md §3.3).
(function () {
  "use strict";
  var text = document.getElementById("id_text");
  var language = document.getElementById("id_language");
  var counter = document.getElementById("text-counter");
  if (!text || !language || !counter) { return; }
  var shortLanguages = (text.dataset.shortLanguages || "").split(",");
  function limit() {
    return shortLanguages.indexOf(language.value) >= 0
      ? parseInt(text.dataset.limitShort, 10) : parseInt(text.dataset.limit, 10);
  }
  function update() {
    var max = limit();
    var used = Array.from(text.value).length;
    counter.textContent = used + " / " + max + " characters for " +
      language.options[language.selectedIndex].text;
    counter.classList.toggle("over", used > max);
  }
  text.addEventListener("input", update);
  language.addEventListener("change", update);
  update();
})();
