"""The Gradio web UI: one module per tab. UI code only gathers input and shows results; the work
is done by the same library functions the CLI and the tests call."""
