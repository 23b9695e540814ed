// Korean (and other IME) input: the Enter that commits a Hangul syllable still being composed is not
// "send". Gradio's textbox submits on any Enter, which sends the message without its last syllable
// and then leaves that syllable behind to be sent again. In the capture phase, before Gradio sees it,
// an Enter that belongs to a composition (isComposing, or keyCode 229 as Chrome on Windows and Safari
// report it) is kept from the textbox's submit handler; the IME still receives it and commits the
// syllable, and the clean Enter that follows (the same key press on Windows, the next one elsewhere)
// sends the whole message, once.
(() => {
  const guarded = (event) => event.target instanceof Element && event.target.closest(".ime-safe");
  const stopCompositionEnter = (event) => {
    if (event.key === "Enter" && (event.isComposing || event.keyCode === 229) && guarded(event)) {
      event.stopImmediatePropagation();
    }
  };
  document.addEventListener("keydown", stopCompositionEnter, true);
  document.addEventListener("keypress", stopCompositionEnter, true);
})();
