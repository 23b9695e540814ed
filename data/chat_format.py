"""The prompt contract between training and chat, for every model family, in one place.

Two prompt formats:
- `lines`, the blog post's: one `label: text` line per utterance (`user`/`bot`, or `user1`, `user2`, …
  for numbered speakers), the tokenizer's own BOS before and its EOS after. Training sees
  `user: 안녕\\nbot: 응 안녕` + EOS; chat sends `user: 안녕\\nbot:` and the model writes the rest,
  stopping at the next `\\nuser` line or its end-of-sequence token.
- `chat_template`: the model's own Jinja chat template (from its tokenizer, or the GGUF file). Its
  header and end-of-turn tokens come from the template itself, never from a list kept here.

Everything that turns a conversation into tokens or text lives here: speaker labels and the dataset
text, training ids and labels (bot-only loss), the prompt at chat time, how each engine encodes it,
stop strings and end tokens (`PromptContract`, stored with every adapter and export), the Ollama
Modelfile template and the verification prompts. `tests/test_prompt_parity.py` proves that the
ids a model was trained on for a conversation are the ids chat sends for the same history.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from core.artifacts import SPEAKER_STYLES, PromptContract
from core.errors import UserError

BOT_LABEL = "bot"
IGNORE = -100  # a label the loss skips


# --- conversations as lines ----------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    label: str      # user, user1, bot
    role: str       # user or assistant
    content: str

    def render(self) -> str:
        # One utterance per line: a line break inside a message would read as a new, unlabelled line.
        return f"{self.label}: {' '.join(self.content.split())}"


def speaker_labels(speakers_in_order: list[str], bot: str, style: str) -> dict[str, str]:
    if style not in SPEAKER_STYLES:
        raise ValueError(f"unknown speaker style {style!r}; choose one of {', '.join(SPEAKER_STYLES)}")
    others = [speaker for speaker in speakers_in_order if speaker != bot]
    labels = {bot: BOT_LABEL}
    for number, speaker in enumerate(others, start=1):
        labels[speaker] = "user" if style == "blog" else f"user{number}"
    return labels


def render_text(lines: list[Line]) -> str:
    """The conversation as the `lines` format trains on it (the dataset's `text`)."""
    return "\n".join(line.render() for line in lines)


def as_messages(lines: list[Line]) -> list[dict]:
    return [{"role": line.role, "speaker": line.label, "content": line.content} for line in lines]


def lines_of(messages) -> list[Line]:
    """A dataset example's messages (dicts or ExampleMessage) as lines."""
    return [Line(_get(m, "speaker"), _get(m, "role"), _get(m, "content")) for m in messages]


def template_messages(lines: list[Line]) -> list[dict]:
    """Lines as chat-template messages: consecutive lines of one role joined; in group chats each user
    line keeps its speaker label (`user2: …`)."""
    users = {line.label for line in lines if line.role == "user"}
    messages: list[dict] = []
    for line in lines:
        content = f"{line.label}: {line.content}" if line.role == "user" and len(users) > 1 else line.content
        if messages and messages[-1]["role"] == line.role:
            messages[-1]["content"] += "\n" + content
        else:
            messages.append({"role": line.role, "content": content})
    return messages


def _get(message, key: str):
    return message[key] if isinstance(message, dict) else getattr(message, key)


# --- the contract of a tokenizer -----------------------------------------------------------------


class ChatTemplate(NamedTuple):
    """A Jinja chat template and the special tokens it refers to, from a tokenizer or a GGUF file."""

    template: str
    bos_token: str = ""
    eos_token: str = ""

    @classmethod
    def of_tokenizer(cls, tokenizer) -> ChatTemplate | None:
        if not getattr(tokenizer, "chat_template", None):
            return None
        return cls(tokenizer.chat_template, tokenizer.bos_token or "", tokenizer.eos_token or "")

    def render(self, messages: list[dict], add_generation_prompt: bool) -> str:
        from transformers.utils.chat_template_utils import render_jinja_template

        rendered, _ = render_jinja_template(conversations=[messages], chat_template=self.template,
                                            add_generation_prompt=add_generation_prompt,
                                            bos_token=self.bos_token, eos_token=self.eos_token)
        return rendered[0]


def contract_for(tokenizer, prompt_format: str, speakers: str) -> PromptContract:
    """The contract a model trained with this tokenizer keeps: its end-of-sequence token, and for a
    chat template the template's own end-of-turn marker."""
    if tokenizer.eos_token is None:
        raise UserError("the tokenizer has no end-of-sequence token; choose a tokenizer that defines one",
                        ko="토크나이저에 문장 끝(EOS) 토큰이 없습니다. EOS 토큰이 정의된 토크나이저를 고르세요.")
    end_tokens = [tokenizer.eos_token]
    if prompt_format == "chat_template":
        template = _required_template(tokenizer)
        end_of_turn = TemplatePieces.of(template).assistant_suffix.strip()
        if end_of_turn and end_of_turn != tokenizer.eos_token:
            end_tokens.insert(0, end_of_turn)
    return PromptContract(prompt_format=prompt_format, speakers=speakers, end_tokens=end_tokens)


def _required_template(tokenizer) -> ChatTemplate:
    template = ChatTemplate.of_tokenizer(tokenizer)
    if template is None:
        raise UserError("This model's tokenizer has no chat template: use the prompt format 'lines' (the blog post's).",
                        ko="이 모델의 토크나이저에는 채팅 템플릿이 없습니다. "
                           "프롬프트 형식 'lines'(블로그 글의 형식)를 쓰세요.")
    return template


@dataclass(frozen=True)
class TemplatePieces:
    """What a chat template puts around each role's message, found by rendering marker messages."""

    user_prefix: str
    user_suffix: str
    assistant_prefix: str       # the generation prompt (`<|start_header_id|>assistant<|end_header_id|>\n\n`)
    assistant_suffix: str       # after a reply: its end-of-turn marker (`<|eot_id|>`, `<|im_end|>\n`, …)
    leading: str                # what comes once, before the first message (BOS)

    @classmethod
    def of(cls, template: ChatTemplate) -> TemplatePieces:
        user, reply, later = "\x01USER\x01", "\x01REPLY\x01", "\x01LATER\x01"
        first = template.render([{"role": "user", "content": user}], add_generation_prompt=False)
        prompted = template.render([{"role": "user", "content": user}], add_generation_prompt=True)
        two = template.render([{"role": "user", "content": user}, {"role": "assistant", "content": reply}], False)
        three = template.render([{"role": "user", "content": user}, {"role": "assistant", "content": reply},
                                 {"role": "user", "content": later}], False)
        if not (two.startswith(first) and prompted.startswith(first) and three.startswith(two) and reply in two):
            raise UserError("This chat template rewrites earlier turns as a conversation grows; it cannot be used "
                            "for chat as trained. Use the prompt format 'lines'.",
                            ko="이 채팅 템플릿은 대화가 길어지면 앞의 턴을 바꿔 씁니다. 학습한 그대로 대화할 수 없으니 "
                               "프롬프트 형식 'lines'를 쓰세요.")
        user_prefix = three[len(two):three.index(later)]
        leading = first[:first.index(user)].removesuffix(user_prefix)
        return cls(user_prefix=user_prefix, user_suffix=first[first.index(user) + len(user):],
                   assistant_prefix=prompted[len(first):],
                   assistant_suffix=two[two.index(reply) + len(reply):], leading=leading)


# --- the tokens a model is trained on ------------------------------------------------------------


def special_prefix(tokenizer) -> list[int]:
    """What the tokenizer puts before any text by itself (BOS for Llama, nothing for Qwen)."""
    marker = tokenizer("가", add_special_tokens=False)["input_ids"]
    with_specials = tokenizer("가", add_special_tokens=True)["input_ids"]
    for start in range(len(with_specials) - len(marker) + 1):
        if with_specials[start:start + len(marker)] == marker:
            return list(with_specials[:start])
    return []


def training_ids(text: str, tokenizer) -> list[int]:
    """A `lines` text as the trainer sees it: the tokenizer's own prefix (BOS), the text, then its EOS."""
    if tokenizer.eos_token_id is None:
        raise UserError("the tokenizer has no end-of-sequence token; choose a tokenizer that defines one",
                        ko="토크나이저에 문장 끝(EOS) 토큰이 없습니다. EOS 토큰이 정의된 토크나이저를 고르세요.")
    return special_prefix(tokenizer) + text_ids(text, tokenizer) + [tokenizer.eos_token_id]


def text_ids(text: str, tokenizer) -> list[int]:
    """Chat text as plain text: `<|end_of_text|>` typed in a message is not the special token."""
    return list(tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"])


def special_overhead(tokenizer) -> int:
    """Tokens added around any text: the prefix (BOS) plus the EOS we append."""
    return len(special_prefix(tokenizer)) + 1


def count_tokens(texts: list[str], tokenizer) -> list[int]:
    if not texts:
        return []
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False, split_special_tokens=True)["input_ids"]]


def visible_tokens(text: str, tokenizer) -> str:
    """The text as the trainer sees it, special tokens written out (for the preview)."""
    return tokenizer.decode(training_ids(text, tokenizer), skip_special_tokens=False)


def encode_for_training(lines: list[Line], tokenizer, prompt_format: str, loss_on: str,
                        with_turns: bool = False) -> dict | None:
    """`{"input_ids", "labels"}` for a conversation in the prompt format; None when nothing in it is
    learned (loss on the bot's turns, and no bot turn survives). `with_turns` adds "turns": for each
    token, which of the bot's turns it belongs to (1 for its first answer), 0 outside them."""
    encode = _encode_template if prompt_format == "chat_template" else _encode_lines
    row = encode(lines, tokenizer, loss_on)
    if row is not None and not with_turns:
        row.pop("turns", None)
    return row


def _encode_lines(lines: list[Line], tokenizer, loss_on: str) -> dict | None:
    """Line by line, so that the loss can skip lines the bot did not say; checked against the whole
    text, which is what the Dataset tab showed."""
    expected = training_ids(render_text(lines), tokenizer)
    prefix = special_prefix(tokenizer)
    ids, labels, turns = list(prefix), [IGNORE] * len(prefix), [0] * len(prefix)
    turn = 0
    for index, line in enumerate(lines):
        piece = line.render() + ("\n" if index < len(lines) - 1 else "")
        piece_ids = text_ids(piece, tokenizer)
        if index == len(lines) - 1:
            piece_ids = piece_ids + [tokenizer.eos_token_id]
        learn = loss_on == "all" or line.role == "assistant"
        if line.role == "assistant" and (index == 0 or lines[index - 1].role != "assistant"):
            turn += 1
        ids += piece_ids
        labels += piece_ids if learn else [IGNORE] * len(piece_ids)
        turns += [turn if line.role == "assistant" else 0] * len(piece_ids)
    if ids != expected:
        # A tokenizer that merges across line breaks: fall back to the whole text, every token learned.
        ids, labels = expected, list(expected)
        if loss_on == "bot":
            return None
        turns = [0] * len(ids)
    if all(label == IGNORE for label in labels):
        return None
    return {"input_ids": ids, "labels": labels, "turns": turns}


def _encode_template(lines: list[Line], tokenizer, loss_on: str) -> dict | None:
    """Through the tokenizer's chat template. Each message's tokens are what its prefix adds, so the
    labels follow the template exactly; a reply's header is not learned, the reply and its end are."""
    template = _required_template(tokenizer)
    messages = template_messages(lines)
    ids, labels, turns = [], [], []
    turn = 0
    for index, message in enumerate(messages):
        prefix = _template_ids(template, messages[:index + 1], False, tokenizer)
        if prefix[:len(ids)] != ids:  # a template that rewrites earlier turns: learn the whole text
            ids = _template_ids(template, messages, False, tokenizer)
            return None if loss_on == "bot" else {"input_ids": ids, "labels": list(ids), "turns": [0] * len(ids)}
        added = prefix[len(ids):]
        learn = loss_on == "all" or message["role"] == "assistant"
        turn += message["role"] == "assistant"
        header = 0
        if learn and loss_on == "bot" and index:
            prompted = _template_ids(template, messages[:index], True, tokenizer)
            header = len(prompted) - len(ids) if prompted[:len(ids)] == ids else 0
        ids += added
        labels += [IGNORE] * header + added[header:] if learn else [IGNORE] * len(added)
        turns += [0] * header + [turn if message["role"] == "assistant" else 0] * (len(added) - header)
    if all(label == IGNORE for label in labels):
        return None
    return {"input_ids": ids, "labels": labels, "turns": turns}


def _template_ids(template: ChatTemplate, messages: list[dict], add_generation_prompt: bool, tokenizer) -> list[int]:
    return list(tokenizer(template.render(messages, add_generation_prompt), add_special_tokens=False)["input_ids"])


# --- the prompt at chat time ---------------------------------------------------------------------


def history_lines(messages: list[dict], contract: PromptContract) -> list[Line]:
    """Chat messages (`{"role", "content"}`) as training lines: one line per line of a message, since
    people send several short messages in a row and training saw each as its own line. A user message
    that names its speaker (`"speaker": "user2"`, a held-out group chat) keeps it for numbered speakers."""
    lines = []
    for message in messages:
        role = "assistant" if message["role"] == "assistant" else "user"
        label = BOT_LABEL if role == "assistant" else contract.user_label
        if role == "user" and contract.speakers == "numbered" and str(message.get("speaker", "")).startswith("user"):
            label = message["speaker"]
        lines += [Line(label, role, part.strip()) for part in message_text(message["content"]).split("\n") if part.strip()]
    return lines


def message_text(content) -> str:
    """A message's text, whether plain or Gradio's list of content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return "\n".join(message_text(block) for block in content or [] if isinstance(block, (str, dict)))


def prompt_text(lines: list[Line], contract: PromptContract, template: ChatTemplate | None = None) -> str:
    """The text the model continues: the history and the start of the bot's next turn."""
    if contract.prompt_format == "lines":
        return render_text(lines) + f"\n{BOT_LABEL}:"
    if template is None or not template.template:
        raise UserError("This model was trained with a chat template, but its file carries none.",
                        ko="이 모델은 채팅 템플릿으로 학습했지만 모델 파일에 채팅 템플릿이 없습니다.")
    return template.render(template_messages(lines), add_generation_prompt=True)


class PromptEncoding(NamedTuple):
    """How an engine turns prompt text into ids, as training did: the tokenizer's own prefix (BOS) in
    front of `lines` text; a rendered chat template holds its special tokens as text already."""

    add_prefix: bool
    parse_special: bool


def prompt_encoding(contract: PromptContract) -> PromptEncoding:
    if contract.prompt_format == "lines":
        return PromptEncoding(add_prefix=True, parse_special=False)
    return PromptEncoding(add_prefix=False, parse_special=True)


def encode_prompt(text: str, tokenizer, contract: PromptContract) -> list[int]:
    """Prompt ids with a Hugging Face tokenizer (the transformers chat engine, the export's reference)."""
    if prompt_encoding(contract).parse_special:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    return special_prefix(tokenizer) + text_ids(text, tokenizer)


def fitted_prompt(lines: list[Line], contract: PromptContract, count_tokens: Callable[[str], int], room: int,
                  template: ChatTemplate | None = None) -> tuple[str, int]:
    """The prompt with the oldest lines dropped until it takes at most `room` tokens; returns it
    and how many lines were dropped. The newest message is never dropped."""
    for dropped in range(len(lines)):
        text = prompt_text(lines[dropped:], contract, template)
        if count_tokens(text) <= room:
            return text, dropped
    raise UserError(f"Your message is too long for this model's context: shorten it (room for about {room} tokens).",
                    ko=f"메시지가 이 모델의 컨텍스트에 비해 너무 깁니다. 메시지를 줄이세요 (약 {room} 토큰까지 들어갑니다).")


def reply_of(raw: str, contract: PromptContract) -> str:
    """The bot's words from what the model wrote: cut at the first stop, `bot:` labels of its
    follow-up lines removed (those lines are kept, one per line)."""
    cut = len(raw)
    for stop in contract.stop:
        if (at := raw.find(stop)) != -1:
            cut = min(cut, at)
    text = raw[:cut]
    for stop in contract.text_stops:  # `\nus` of a `\nuser` being written
        for length in range(min(len(stop), len(text)) - 1, 0, -1):
            if text.endswith(stop[:length]):
                text = text[:-length]
                break
    if contract.prompt_format == "lines":
        text = "\n".join(line.removeprefix(f"{BOT_LABEL}:").strip() for line in text.split("\n"))
    return text.strip()


# --- export: the Ollama Modelfile and the verification prompts ----------------------------------


def ollama_template(contract: PromptContract, template: ChatTemplate | None) -> str:
    """The Modelfile TEMPLATE that prompts as training did (Ollama adds BOS itself, as llama.cpp does)."""
    if contract.prompt_format == "lines":
        return ('{{ range .Messages }}{{ if eq .Role "assistant" }}' + BOT_LABEL + ': {{ .Content }}\n'
                '{{ else }}' + contract.user_label + ': {{ .Content }}\n{{ end }}{{ end }}' + BOT_LABEL + ':')
    pieces = TemplatePieces.of(_required_template_of(template))
    return ('{{ range .Messages }}{{ if eq .Role "assistant" }}' + pieces.assistant_prefix + '{{ .Content }}'
            + pieces.assistant_suffix + '{{ else }}' + pieces.user_prefix + '{{ .Content }}' + pieces.user_suffix
            + '{{ end }}{{ end }}' + pieces.assistant_prefix)


def _required_template_of(template: ChatTemplate | None) -> ChatTemplate:
    if template is None:
        raise UserError("This model was trained with a chat template, but its tokenizer carries none.",
                        ko="이 모델은 채팅 템플릿으로 학습했지만 토크나이저에 채팅 템플릿이 없습니다.")
    return template


# Conversations an export is verified on: a one-user chat, a longer one, a group chat.
VERIFY_CONVERSATIONS = [
    [Line("user", "user", "오늘 점심 뭐 먹을래?")],
    [Line("user", "user", "주말에 시간 있어?"), Line(BOT_LABEL, "assistant", "응 토요일은 괜찮아"),
     Line("user", "user", "그럼 영화 보러 갈래?")],
    [Line("user1", "user", "다들 퇴근했어?"), Line("user2", "user", "나 아직 회사ㅠㅠ")],
]


def verification_prompts(contract: PromptContract, template: ChatTemplate | None) -> list[str]:
    """The prompts every exported file is checked on, in the format the model was trained with."""
    return [prompt_text(lines, contract, template) for lines in VERIFY_CONVERSATIONS]
