"""The chat prompt, built exactly as the model was trained: the blog post's `user:`/`bot:` lines, or the
tokenizer's chat template. Chat history is trimmed from the oldest line until it fits the context.

Training saw `user: 안녕\\nbot: 응 안녕` + EOS; chat sends `user: 안녕\\nbot:` and the model writes the
rest, stopping at the next `\\nuser` line or its end-of-text token.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, computed_field

from core import fileio
from core.errors import UserError
from data.render import BOT_LABEL, Line, render_text

LLAMA3_STOPS = ["<|eot_id|>", "<|end_of_text|>"]


class PromptFormat(BaseModel):
    prompt_format: Literal["lines", "chat_template"] = "lines"
    speakers: Literal["blog", "numbered"] = "blog"

    @computed_field
    @property
    def user_label(self) -> str:
        return "user1" if self.speakers == "numbered" else "user"

    @computed_field
    @property
    def stop(self) -> list[str]:
        if self.prompt_format == "chat_template":
            return list(LLAMA3_STOPS)
        return ["\nuser", "<|end_of_text|>"]

    @property
    def text_stops(self) -> list[str]:
        """Stops that are text to look for; the special-token ones end generation by themselves."""
        return [stop for stop in self.stop if not stop.startswith("<|")]


def format_of_adapter(adapter_dir: Path, default_dataset: str | None = None,
                      default_format: str = "lines") -> PromptFormat:
    """How an adapter was trained to be prompted, from the `training.json` saved beside it."""
    training = fileio.read_json(Path(adapter_dir) / "training.json") or {}
    speakers = training.get("speakers")
    if not speakers and default_dataset:
        speakers = (fileio.read_json(Path(default_dataset) / "report.json", {}) or {}).get("config", {}).get("speakers")
    return PromptFormat(prompt_format=training.get("prompt_format", default_format), speakers=speakers or "blog")


def format_of_gguf(gguf_path: Path) -> PromptFormat:
    """The format recorded in the export beside a GGUF file; the blog post's lines for a foreign file."""
    summary = fileio.read_json(Path(gguf_path).parent / "export.json") or {}
    return PromptFormat.model_validate(summary.get("prompt") or {})


def history_lines(messages: list[dict], fmt: PromptFormat) -> list[Line]:
    """Chat messages (`{"role", "content"}`) as training lines: one line per line of a message, since
    people send several short messages in a row and training saw each as its own line."""
    lines = []
    for message in messages:
        role = "assistant" if message["role"] == "assistant" else "user"
        label = BOT_LABEL if role == "assistant" else fmt.user_label
        lines += [Line(label, role, part.strip()) for part in message_text(message["content"]).split("\n") if part.strip()]
    return lines


def message_text(content) -> str:
    """A message's text, whether plain or Gradio's list of content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return "\n".join(message_text(block) for block in content or [] if isinstance(block, (str, dict)))


def prompt_text(lines: list[Line], fmt: PromptFormat, chat_template: str | None = None,
                special_tokens: dict | None = None) -> str:
    """The text the model continues: the history and the start of the bot's next turn."""
    if fmt.prompt_format == "lines":
        return render_text(lines) + f"\n{BOT_LABEL}:"
    if not chat_template:
        raise UserError("This model was trained with a chat template, but its file carries none.",
                        ko="이 모델은 채팅 템플릿으로 학습했지만 모델 파일에 채팅 템플릿이 없습니다.")
    from transformers.utils.chat_template_utils import render_jinja_template

    from tuning.dataset import chat_messages

    rendered, _ = render_jinja_template(conversations=[chat_messages(lines)], chat_template=chat_template,
                                        add_generation_prompt=True, **(special_tokens or {}))
    return rendered[0]


def fitted_prompt(lines: list[Line], fmt: PromptFormat, count_tokens: Callable[[str], int], room: int,
                  **template) -> tuple[str, int]:
    """The prompt with the oldest lines dropped until it takes at most `room` tokens; returns it
    and how many lines were dropped. The newest message is never dropped."""
    for dropped in range(len(lines)):
        text = prompt_text(lines[dropped:], fmt, **template)
        if count_tokens(text) <= room:
            return text, dropped
    raise UserError(f"Your message is too long for this model's context: shorten it (room for about {room} tokens).",
                    ko=f"메시지가 이 모델의 컨텍스트에 비해 너무 깁니다. 메시지를 줄이세요 (약 {room} 토큰까지 들어갑니다).")


def reply_of(raw: str, fmt: PromptFormat) -> str:
    """The bot's words from what the model wrote: cut at the first stop, `bot:` labels of its
    follow-up lines removed (those lines are kept, one per line)."""
    cut = len(raw)
    for stop in fmt.stop:
        if (at := raw.find(stop)) != -1:
            cut = min(cut, at)
    text = raw[:cut]
    for stop in fmt.text_stops:  # `\nus` of a `\nuser` being written
        for length in range(min(len(stop), len(text)) - 1, 0, -1):
            if text.endswith(stop[:length]):
                text = text[:-length]
                break
    if fmt.prompt_format == "lines":
        text = "\n".join(line.removeprefix(f"{BOT_LABEL}:").strip() for line in text.split("\n"))
    return text.strip()
