"""Chat tab: talk to one model, or compare two side by side (A = base, B = fine-tuned by default), with
a blind mode that hides and shuffles the sides until you vote. Generation lives in inference.chat;
this file only wires components to it."""
from __future__ import annotations

import functools
import random
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import pandas as pd

from core.artifacts import Pane
from core.errors import UserError
from core.workspace import Workspace
from data.chat_format import message_text
from inference import arena
from inference.catalog import DEMO_BASE, chat_models, choices, default_pair, label_of, resolve
from inference.chat import GenerationSettings, ModelCache, chat_stream, side_by_side
from ui.common import VERDICT_BUTTONS, user_errors, verdict_words
from ui.forms import Form
from ui.i18n import T, lang, say

IME_SAFE = "ime-safe"  # textboxes whose Enter must wait for a Hangul syllable to be committed (ui/ime_guard.js)
CHAT_CONCURRENCY = 8


def create_chat_tab(workspace: Workspace, resolve_base: Callable[[str], str] | None = None,
                    make_demo_gguf: Callable[[], Path] | None = None) -> dict:
    """`resolve_base` finds a base model's folder for the transformers engine (runs not yet exported);
    without it (a chat-only Space) only GGUF files are offered. `make_demo_gguf` builds the demo base
    as GGUF, so that a new workspace has a model to chat with (the app passes it; a Space does not)."""
    cache = ModelCache(resolve_base=resolve_base, make_file={DEMO_BASE: make_demo_gguf} if make_demo_gguf else {})
    listed = functools.partial(chat_models, workspace, demo_base=make_demo_gguf is not None)
    models = listed()
    default_a, default_b = default_pair(models)
    with gr.Accordion(T("Generation settings", "생성 설정"), open=False):
        defaults = GenerationSettings()
        with gr.Row():
            temperature = gr.Slider(0, 2, value=defaults.temperature, step=0.05,
                                    label=T("Temperature", "온도(temperature)"))
            top_p = gr.Slider(0.05, 1, value=defaults.top_p, step=0.05, label="Top-p")
            top_k = gr.Number(value=defaults.top_k, precision=0, label=T("Top-k (0: off)", "Top-k (0: 끔)"))
        with gr.Row():
            repeat_penalty = gr.Slider(0.5, 2, value=defaults.repeat_penalty, step=0.05,
                                       label=T("Repetition penalty", "반복 패널티"))
            max_new_tokens = gr.Number(value=defaults.max_new_tokens, precision=0,
                                       label=T("Max new tokens", "최대 생성 토큰"))
            seed = gr.Number(value=defaults.seed, precision=0, label=T("Seed (-1: random)", "시드 (-1: 무작위)"))
    settings_form = Form(temperature=temperature, top_p=top_p, top_k=top_k, repeat_penalty=repeat_penalty,
                         max_new_tokens=max_new_tokens, seed=seed)  # GenerationSettings' own field names

    with gr.Tabs() as chat_tabs:
        with gr.Tab("Chat · 대화", id="single"):
            with gr.Row():
                single_model = gr.Dropdown(label=T("Model", "모델"), choices=choices(models), value=default_b,
                                           allow_custom_value=True, scale=5,
                                           info=T("an export, a checkpoint (transformers), or a path to a .gguf file",
                                                  "내보낸 모델, 체크포인트(transformers), 또는 .gguf 파일 경로"))
                refresh = gr.Button("↻", scale=0)
            single_chat = gr.Chatbot(label=T("Chat", "대화"), height=420, elem_id="single-chat")
            single_stats = gr.Markdown()
            with gr.Row():
                single_message = _message_box("single-message")
                single_send = gr.Button(T("Send", "보내기"), variant="primary", scale=1)
            single_clear = gr.Button(T("Clear", "지우기"))
        with gr.Tab("Compare · 비교", id="compare"):
            with gr.Row():
                model_a = gr.Dropdown(label="A", choices=choices(models), value=default_a, allow_custom_value=True)
                model_b = gr.Dropdown(label="B", choices=choices(models), value=default_b, allow_custom_value=True)
                blind = gr.Checkbox(label=T("Blind (shuffle and hide the names until you vote)",
                                            "블라인드 (투표할 때까지 모델 이름을 섞어서 숨김)"), value=False)
            round_state = gr.State(None)
            with gr.Row():
                with gr.Column():
                    chat_a = gr.Chatbot(label=_pane_label("A", label_of(default_a, models)), height=420,
                                        elem_id="chat-a")
                    stats_a = gr.Markdown(elem_id="stats-a")
                with gr.Column():
                    chat_b = gr.Chatbot(label=_pane_label("B", label_of(default_b, models)), height=420,
                                        elem_id="chat-b")
                    stats_b = gr.Markdown(elem_id="stats-b")
            with gr.Row():
                compare_message = _message_box("compare-message")
                compare_send = gr.Button(T("Send to both", "둘 다 보내기"), variant="primary", scale=1)
            with gr.Row(visible=False) as vote_row:
                vote_buttons = {verdict: gr.Button(text) for verdict, text in VERDICT_BUTTONS.items()}
            vote_message = gr.Markdown()
            with gr.Row():
                compare_clear = gr.Button(T("Clear both (new round)", "모두 지우기 (새 라운드)"))
                save_button = gr.Button(T("Save conversation", "대화 저장"))
            saved_file = gr.File(label=T("Saved conversation", "저장된 대화"), interactive=False, height=90,
                                 visible=False)  # appears when a conversation is saved
            tally_table = gr.Dataframe(value=_tally_frame(workspace, models), label=T("Blind votes", "블라인드 투표 집계"),
                                       interactive=False)

    def settings_of(values: dict) -> GenerationSettings:
        return GenerationSettings(**{name: value for name, value in values.items() if value is not None})

    @user_errors
    def send_single(choice, text, history, settings_values):
        settings = settings_of(settings_values)
        text = _required(text)
        history = list(history or []) + [{"role": "user", "content": text}]
        yield history, say("Loading the model…", "모델을 불러오는 중…"), ""
        model = cache.get(resolve(choice, workspace, listed()))
        for (reply,) in side_by_side([chat_stream(model, history, settings)]):
            if reply and reply.error:
                raise UserError(reply.error)
            if reply:
                yield history + [{"role": "assistant", "content": reply.text}], reply.stats(lang()), ""

    @user_errors
    def send_compare(choice_a, choice_b, is_blind, text, history_a, history_b, state, settings_values):
        settings = settings_of(settings_values)
        text = _required(text)
        models = listed()
        if not _same_round(state, choice_a, choice_b, is_blind):
            state = _new_round(choice_a, choice_b, is_blind, models)
        specs = [resolve(state["left"], workspace, models), resolve(state["right"], workspace, models)]
        state = {**state, "labels": {"left": specs[0].label, "right": specs[1].label},
                 "ids": {"left": specs[0].id, "right": specs[1].id}}
        histories = [list(history_a or []) + [{"role": "user", "content": text}],
                     list(history_b or []) + [{"role": "user", "content": text}]]
        loading = say("Loading…", "불러오는 중…")
        yield (*_panes(state, histories), loading, loading, "", state)
        streams = [chat_stream(cache.get(spec), history, settings) for spec, history in zip(specs, histories)]
        for replies in side_by_side(streams):
            panes = [history + ([{"role": "assistant", "content": reply.text}] if reply and reply.text else [])
                     for history, reply in zip(histories, replies)]
            stats = [reply.stats(lang()) if reply else "…" for reply in replies]
            yield (*_panes(state, panes), *stats, "", state)

    def new_round(choice_a, choice_b, is_blind):
        """Empty panes and, in blind mode, a new shuffle; a missing pick waits for the first message."""
        if not choice_a or not choice_b:
            return [], [], "", "", None, gr.update(visible=bool(is_blind)), ""
        state = _new_round(choice_a, choice_b, is_blind, listed())
        return (*_panes(state, [[], []]), "", "", state, gr.update(visible=bool(is_blind)), "")

    @user_errors
    def vote(verdict, state, history_a, history_b):
        if not state or not state["blind"]:
            raise UserError("Votes count only in blind mode: tick Blind, then chat and vote.",
                            ko="투표는 블라인드 모드에서만 집계됩니다. 블라인드를 체크한 뒤 대화하고 투표하세요.")
        if state["voted"]:
            raise UserError("This round has its vote; press Clear both for a new blind round.",
                            ko="이번 라운드는 이미 투표했습니다. 새 블라인드 라운드는 '모두 지우기'를 누르세요.")
        if not _answered(history_a) or not _answered(history_b):
            raise UserError("Send a message and let both sides answer before voting.",
                            ko="투표하기 전에 메시지를 보내고 양쪽의 답변을 받으세요.")
        state = {**state, "voted": True}
        saved = arena.save_conversation(workspace, _saved_panes(state, history_a, history_b), {})
        arena.record_vote(workspace, state["ids"]["left"], state["ids"]["right"], verdict,
                          left_label=state["labels"]["left"], right_label=state["labels"]["right"], conversation=saved)
        said, left, right = verdict_words(verdict), state["labels"]["left"], state["labels"]["right"]
        message = say(f"Vote stored: {said}. A was **{left}**, B was **{right}**. Press Clear both for a new round.",
                      f"투표를 저장했습니다: {said}. A는 **{left}**, B는 **{right}**였습니다. "
                      "새 라운드는 '모두 지우기'를 누르세요.")
        return message, _tally_frame(workspace, listed()), state, *_panes(state)

    @user_errors
    def save(history_a, history_b, state, settings_values):
        if not _answered(history_a) and not _answered(history_b):
            raise UserError("Nothing to save yet: chat first.", ko="아직 저장할 대화가 없습니다. 먼저 대화하세요.")
        state = state or {"blind": False, "voted": False, "ids": {}, "labels": {}}
        return str(arena.save_conversation(workspace, _saved_panes(state, history_a, history_b),
                                           settings_of(settings_values).model_dump()))

    @user_errors
    def refreshed(current_single, current_a, current_b):
        """New exports and runs appear in the pickers; empty pickers take the default pair, and so do
        pickers still on the demo base that a new workspace starts with, once something was trained."""
        found = listed()
        new_a, new_b = default_pair(found)
        return [gr.update(choices=choices(found), value=default if current in (None, "", DEMO_BASE) else current)
                for current, default in ((current_single, new_b), (current_a, new_a), (current_b, new_b))]

    gr.on([single_message.submit, single_send.click],
          settings_form.handler(send_single, leading=("model", "message", "history")),
          inputs=[single_model, single_message, single_chat, *settings_form.inputs],
          outputs=[single_chat, single_stats, single_message], api_name="chat", concurrency_limit=CHAT_CONCURRENCY,
          show_progress="minimal")
    single_clear.click(lambda: ([], ""), outputs=[single_chat, single_stats], api_name="clear_chat")

    gr.on([compare_message.submit, compare_send.click],
          settings_form.handler(send_compare, leading=("model_a", "model_b", "blind", "message", "history_a",
                                                       "history_b", "round")),
          inputs=[model_a, model_b, blind, compare_message, chat_a, chat_b, round_state, *settings_form.inputs],
          outputs=[chat_a, chat_b, stats_a, stats_b, compare_message, round_state], api_name="compare",
          show_progress="minimal",
          concurrency_limit=CHAT_CONCURRENCY)
    round_outputs = [chat_a, chat_b, stats_a, stats_b, round_state, vote_row, vote_message]
    compare_clear.click(new_round, inputs=[model_a, model_b, blind], outputs=round_outputs, api_name="new_round")
    gr.on([model_a.input, model_b.input, blind.input], new_round, inputs=[model_a, model_b, blind],
          outputs=round_outputs, api_visibility="private")
    for verdict, button in vote_buttons.items():
        button.click(lambda state, a, b, verdict=verdict: vote(verdict, state, a, b),
                     inputs=[round_state, chat_a, chat_b], outputs=[vote_message, tally_table, round_state, chat_a, chat_b],
                     api_name=f"vote_{verdict}")
    save_button.click(settings_form.handler(save, leading=("history_a", "history_b", "round")),
                      inputs=[chat_a, chat_b, round_state, *settings_form.inputs], outputs=[saved_file],
                      api_name="save_chat").success(lambda: gr.update(visible=True), outputs=[saved_file],
                                                    api_visibility="private")
    refresh.click(refreshed, inputs=[single_model, model_a, model_b], outputs=[single_model, model_a, model_b],
                  api_name="chat_models")
    return {"refresh": refreshed, "models": [single_model, model_a, model_b], "tabs": chat_tabs,
            "choices": lambda: choices(listed()), "tally": tally_table,
            "tally_frame": lambda: _tally_frame(workspace, listed())}


def _message_box(elem_id: str) -> gr.Textbox:
    placeholder = T("Type a message (Enter: send, Shift+Enter: new line)",
                    "메시지를 입력하세요 (Enter: 보내기, Shift+Enter: 줄바꿈)")
    return gr.Textbox(show_label=False, placeholder=placeholder, lines=1, max_lines=6, scale=5, elem_id=elem_id,
                      elem_classes=[IME_SAFE, "field-message"], autofocus=False)


def _required(text: str | None) -> str:
    text = (text or "").strip()
    if not text:
        raise UserError("Type a message first.", ko="먼저 메시지를 입력하세요.", field="message")
    return text


def _new_round(choice_a: str | None, choice_b: str | None, is_blind: bool, models: dict) -> dict:
    """A Compare round: which model is on which side (shuffled when blind), by id and by label."""
    if not choice_a or not choice_b:
        raise UserError("Choose a model for both A and B.", ko="A와 B 모두 모델을 선택하세요.")
    left, right = (choice_a, choice_b)
    if is_blind and random.random() < 0.5:
        left, right = right, left
    return {"pair": [choice_a, choice_b, bool(is_blind)], "left": left, "right": right, "blind": bool(is_blind),
            "voted": False, "ids": {"left": left, "right": right},
            "labels": {"left": label_of(left, models), "right": label_of(right, models)}}


def _same_round(state: dict | None, choice_a: str | None, choice_b: str | None, is_blind: bool) -> bool:
    return bool(state) and state["pair"] == [choice_a, choice_b, bool(is_blind)]


def _saved_panes(state: dict, history_a, history_b) -> list[Pane]:
    """Both panes as saved: each model's id and label, unless still hidden in a blind round."""
    hidden = _hidden(state) if state.get("ids") else False
    return [Pane(pane=pane, model=None if hidden else state.get("ids", {}).get(side),
                 label=None if hidden else state.get("labels", {}).get(side), hidden=hidden,
                 messages=_plain(history))
            for pane, side, history in (("A", "left", history_a), ("B", "right", history_b))]


def _pane_label(pane: str, name: str | None) -> str:
    return f"{pane} · {name}" if name else pane


def _panes(state: dict, histories: list | None = None) -> list:
    """Both chat panes: their messages (when given) and a label that names the model unless hidden."""
    updates = []
    for index, (pane, side) in enumerate((("A", "left"), ("B", "right"))):
        label = f"{pane} · ?" if _hidden(state) else _pane_label(pane, state["labels"][side])
        updates.append(gr.update(label=label) if histories is None else gr.update(value=histories[index], label=label))
    return updates


def _hidden(state: dict) -> bool:
    return state["blind"] and not state["voted"]


def _answered(history) -> bool:
    return any(message["role"] == "assistant" and message_text(message["content"]).strip() for message in history or [])


def _plain(history) -> list[dict]:
    return [{"role": message["role"], "content": message_text(message["content"])} for message in history or []]


def _tally_frame(workspace: Workspace, models: dict) -> pd.DataFrame:
    labels = {model_id: spec.label for model_id, spec in models.items()}
    return pd.DataFrame(arena.tally(workspace, labels=labels), columns=arena.TALLY_COLUMNS)


