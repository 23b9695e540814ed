"""The one exception type whose message is meant for the user, not for a developer."""


class UserError(Exception):
    """A problem the user can fix (bad input, missing model, full disk). Its message says how.

    The CLI prints it without a traceback and exits non-zero; the UI shows it as a Gradio error.
    """
