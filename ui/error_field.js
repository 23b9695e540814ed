// Errors point to the control to change: an error message that names a field carries
// <span class="error-field for-NAME">; the control of that field (the element with the class
// field-NAME that is on screen, so the one in the open tab) is outlined, scrolled to and focused. The
// outline goes when the control is changed.
(() => {
  const openAround = (element) => {
    // a control in a closed accordion: open it (its header is the button just before its content);
    // a header already marked open is still opening, and a second click would close it again
    let found = false;
    for (let parent = element.parentElement; parent; parent = parent.parentElement) {
      const header = parent.previousElementSibling;
      if (parent.offsetParent !== null || !header?.matches("button.label-wrap")) continue;
      found = true;
      if (!header.classList.contains("open")) {
        header.click();
        return true;
      }
    }
    return found;
  };
  const point = (field, tries = 40) => {
    const matches = [...document.querySelectorAll(`.field-${CSS.escape(field)}`)];
    const shown = matches.find((element) => element.offsetParent !== null);
    if (!shown) {
      // in the open tab but inside a closed accordion: open it, then look again until Gradio has
      // shown its content (a later render: over 300 ms on a loaded machine)
      const panel = [...document.querySelectorAll("[role=tabpanel]")].find((tab) => tab.offsetParent !== null);
      const hidden = matches.find((element) => panel && panel.contains(element));
      if (tries > 0 && hidden && openAround(hidden)) setTimeout(() => point(field, tries - 1), 150);
      return;
    }
    shown.classList.add("needs-fix");
    shown.scrollIntoView({ block: "center" });
    const input = shown.querySelector("input, textarea");
    if (input) input.focus({ preventScroll: true });
    const clear = () => shown.classList.remove("needs-fix");
    shown.addEventListener("input", clear, { once: true });
    shown.addEventListener("change", clear, { once: true });
  };
  new MutationObserver((changes) => {
    for (const change of changes) {
      for (const node of change.addedNodes) {
        if (!(node instanceof Element)) continue;
        const marks = node.matches(".error-field") ? [node] : node.querySelectorAll(".error-field");
        for (const mark of marks) {
          const named = [...mark.classList].find((name) => name.startsWith("for-"));
          if (named) point(named.slice(4));
        }
      }
    }
  }).observe(document.documentElement, { childList: true, subtree: true });
  const style = document.createElement("style");
  style.textContent = ".needs-fix{outline:3px solid #dc2626 !important;outline-offset:2px;border-radius:6px}";
  document.head.appendChild(style);
})();
