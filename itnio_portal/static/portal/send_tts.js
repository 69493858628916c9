// Live character counter for the TTS text: the limit depends on the language (itnio-api.md §3.3).
(function () {
  "use strict";
  var text = document.getElementById("id_text");
  var language = document.getElementById("id_language");
  var counter = document.getElementById("text-counter");
  if (!text || !language || !counter) { return; }
  // Django's JavaScript catalogue (admin:jsi18n, loaded by the page); English without it.
  var gettext = window.gettext || function (s) { return s; };
  var interpolate = window.interpolate || function (fmt, obj) {
    return fmt.replace(/%\(\w+\)s/g, function (m) { return String(obj[m.slice(2, -2)]); });
  };
  var shortLanguages = (text.dataset.shortLanguages || "").split(",");
  function limit() {
    return shortLanguages.indexOf(language.value) >= 0
      ? parseInt(text.dataset.limitShort, 10) : parseInt(text.dataset.limit, 10);
  }
  function update() {
    var max = limit();
    var used = Array.from(text.value).length;
    counter.textContent = interpolate(gettext("%(used)s / %(max)s characters for %(language)s"), {
      used: used,
      max: max,
      language: language.options[language.selectedIndex].text
    }, true);
    counter.classList.toggle("over", used > max);
  }
  text.addEventListener("input", update);
  language.addEventListener("change", update);
  update();
})();
