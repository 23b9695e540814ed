// The page's language: the one picked in the page (localStorage), else the app's --lang
// (TUNER_DEFAULT_LANG), else the browser's. Gradio translates labels with its own i18n store,
// which it initialises from navigator.language before this script runs; the switch goes through the
// changeLocale that Gradio's own Settings panel uses (imported from the already-loaded module).
// The language is mirrored into a cookie so that the server writes its messages in it too.
(() => {
  const KEY = "tuner-lang";
  const browserLang = () => ((navigator.language || "en").toLowerCase().startsWith("ko") ? "ko" : "en");
  const current = () => localStorage.getItem(KEY) || window.TUNER_DEFAULT_LANG || browserLang();
  const setCookie = (lang) => { document.cookie = `tuner_lang=${lang}; path=/; SameSite=Lax`; };

  const applyLocale = async (lang) => {
    const core = performance.getEntriesByType("resource").map((entry) => entry.name)
      .find((url) => /\/assets\/core-[^/]*\.js$/.test(url));
    if (!core) return false;
    try {
      (await import(core)).changeLocale(lang);
      return true;
    } catch (error) {
      console.warn("language switch failed", error);
      return false;
    }
  };

  window.tunerLang = current;
  window.tunerSetLang = async (lang) => {
    if (!lang || lang === current()) return;
    localStorage.setItem(KEY, lang);
    setCookie(lang);
    if (!(await applyLocale(lang))) location.reload();
  };

  const lang = current();
  // In case this runs before Gradio sets its i18n up, which reads navigator.language.
  Object.defineProperty(Navigator.prototype, "language", { get: () => lang, configurable: true });
  setCookie(lang);
  document.documentElement.setAttribute("lang", lang);
  applyLocale(lang);
})();
