"""Evaluate tab: pick a dataset and models, start the evaluation (inference.evaluate) as a job in its own
process; the tab follows it from its folder's files, so a page reload re-attaches to it. Then: the
results table, the held-out loss over a run's checkpoints and by turn depth, the style of the replies
against the real person's, and the replies side by side with blind votes that go into the arena."""
from __future__ import annotations

import random
import shlex

import gradio as gr
import pandas as pd

from core.artifacts import Evaluation, UnreadableFile
from core.errors import UserError
from core.evaluations import EvaluationDir, changed
from core.runs import list_runs
from core.workspace import Workspace
from data.style import RATES
from inference import arena, evaluate_jobs
from inference.catalog import UNREADABLE, chat_models, default_pair
from ui.common import VERDICT_BUTTONS, html_escape, job_progress_html, user_errors, verdict_words
from ui.i18n import T, lang, localized, say

REFRESH_S = 2.0
STATES_KO = {"running": "평가하는 중", "completed": "완료", "failed": "실패", "stopped": "중지됨"}
RESULT_COLUMNS = ["model", "step", "bot loss", "perplexity", "bot tokens", "style distance", "seconds"]


def create_evaluate_tab(workspace: Workspace) -> dict:
    datasets = workspace.dataset_names()
    with gr.Row():
        dataset = gr.Dropdown(label=T("Dataset (its held-out conversations)", "데이터셋 (검증용 대화)"),
                              choices=datasets, value=datasets[0] if datasets else None, allow_custom_value=True)
        chattable = chat_models(workspace)
        choices = model_choices(workspace, chattable)
        models = gr.Dropdown(label=T("Models to compare", "비교할 모델"), choices=choices,
                             value=[model_id for model_id in default_pair(chattable) if model_id], multiselect=True,
                             allow_custom_value=True, scale=3, info=_models_info(choices))
    with gr.Row():
        limit = gr.Number(label=T("Held-out contexts each model answers", "모델마다 답할 검증 문맥 수"), value=20,
                          precision=0, minimum=1, maximum=1000)
        seed = gr.Number(label=T("Seed", "시드"), value=0, precision=0)
        max_new_tokens = gr.Number(label=T("Max tokens per reply", "답변당 최대 토큰"), value=64, precision=0,
                                   minimum=1, maximum=1024)
    with gr.Row():
        start_button = gr.Button(T("Evaluate", "평가하기"), variant="primary")
        stop_button = gr.Button(T("Stop", "중지"), variant="stop")
    command = gr.Code(label=T("Command", "명령"), language="shell", lines=1, visible=False)
    with gr.Row():
        picked = gr.Dropdown(label=T("Evaluation", "평가"), choices=evaluation_choices(workspace),
                             value=newest_evaluation(workspace), allow_custom_value=True)
        refresh = gr.Button("↻", scale=0)
    status = gr.HTML(elem_id="evaluation-status")
    # The results and the blind pairs appear once there is an evaluation to show
    with gr.Column(visible=newest_evaluation(workspace) is not None, elem_id="evaluation-shown") as shown:
        results = gr.Dataframe(label=T("Held-out bot-turn loss and style distance (lower is better)",
                                       "검증 대화의 봇 턴 손실과 말투 거리 (낮을수록 좋음)"),
                               headers=RESULT_COLUMNS, interactive=False, elem_id="evaluation-results")
        with gr.Row():
            checkpoint_plot = gr.LinePlot(x="step", y="bot loss", color="run", height=260, elem_id="checkpoint-plot",
                                          title=T("Held-out loss over the run's checkpoints", "체크포인트별 검증 손실"))
            depth_plot = gr.LinePlot(x="depth", y="loss", color="model", height=260, elem_id="depth-plot",
                                     title=T("Loss by turn depth (the bot's n-th answer)", "턴 깊이별 손실 (봇의 n번째 답)"))
        style_table = gr.Dataframe(label=T("Style of the replies (share of replies)", "답변의 말투 (답변 중 비율)"),
                                   interactive=False, elem_id="style-table")
        style_plot = gr.BarPlot(x="model", y="style distance", height=280, elem_id="style-plot",
                                title=T("Style distance from the real replies", "실제 답변과의 말투 거리"))

        gr.Markdown(T("### Replies side by side (blind)\nA held-out conversation, what the real person answered, and "
                      "two models' replies in random order: vote, then the names are shown. Votes count in the Chat "
                      "tab's tally.",
                      "### 답변 나란히 보기 (블라인드)\n검증용 대화, 실제 사람이 한 답, 두 모델의 답을 무작위 순서로 "
                      "보여 줍니다. 투표하면 이름이 공개됩니다. 투표는 대화 탭의 집계에 들어갑니다."))
        context = gr.Chatbot(label=T("Held-out context", "검증용 대화 문맥"), height=300, elem_id="evaluation-context")
        real = gr.Textbox(label=T("What the real person answered", "실제 사람의 답"), interactive=False,
                          elem_id="real-reply")
        with gr.Row():
            reply_a = gr.Textbox(label=T("Reply A", "답변 A"), interactive=False, elem_id="reply-a")
            reply_b = gr.Textbox(label=T("Reply B", "답변 B"), interactive=False, elem_id="reply-b")
        with gr.Row():
            next_pair = gr.Button(T("Next pair", "다음 비교"), elem_id="next-pair")
            vote_buttons = {verdict: gr.Button(text, elem_id=f"evaluation-vote-{verdict}")
                            for verdict, text in VERDICT_BUTTONS.items()}
        vote_message = gr.Markdown(elem_id="evaluation-vote-message")
        with gr.Accordion(T("All replies", "모든 답변"), open=False):
            all_replies = gr.Dataframe(interactive=False, wrap=True, elem_id="all-replies")
    seen = gr.State(None)
    timer = gr.Timer(REFRESH_S)
    pair = gr.State({})

    views = [status, results, checkpoint_plot, depth_plot, style_table, style_plot, all_replies]

    def folder_of(choice: str | None) -> EvaluationDir | None:
        return EvaluationDir(workspace.root / choice) if choice else None

    @user_errors
    def on_start(chosen_dataset, chosen_models, chosen_limit, chosen_seed, chosen_max):
        target, launched = evaluate_jobs.start(workspace, chosen_dataset, list(chosen_models or []),
                                               int(chosen_limit or 20), int(chosen_seed or 0), int(chosen_max or 64),
                                               lang())
        choice = workspace.relative(target.path)
        return (gr.update(choices=evaluation_choices(workspace), value=choice),
                gr.update(value=shlex.join(launched), visible=True))

    @user_errors
    def on_stop(choice):
        target = folder_of(choice)
        if target is None:
            raise UserError("Choose the evaluation to stop.", ko="중지할 평가를 고르세요.")
        evaluate_jobs.stop(target)
        return _line(say(f"Stopping {target.name} after the reply it is writing.",
                         f"{target.name}을(를) 지금 쓰는 답변 다음에 중지합니다."))

    def on_pick(choice):
        target = folder_of(choice)
        return (*evaluation_views(target), _stamp(target), *_pair_views(choice, target), gr.update(visible=target is not None))

    def on_tick(choice, last_seen):
        target = folder_of(choice)
        stamp = _stamp(target)
        if stamp == last_seen:
            return *[gr.skip()] * len(views), last_seen
        return *evaluation_views(target), stamp

    @user_errors
    def on_next(choice):
        return _pair_views(choice, folder_of(choice))

    @user_errors
    def on_vote(verdict, current):
        if not current or current.get("voted") is not False:
            raise UserError("Press Next pair first: each pair takes one vote.",
                            ko="먼저 '다음 비교'를 누르세요. 비교마다 한 번 투표합니다.")
        found = _results(folder_of(current["evaluation"]))
        context_point = found.contexts[current["context"]]
        left, right = found.models[current["left"]], found.models[current["right"]]
        arena.record_vote(workspace, left.id or left.model, right.id or right.model, verdict, blind=True,
                          left_label=left.label,
                          right_label=right.label, evaluation=workspace.root / current["evaluation"],
                          context=context_point.history + [{"role": "assistant", "content": context_point.real_reply,
                                                            "real": True}],
                          replies={left.id or left.model: left.replies[current["context"]],
                                   right.id or right.model: right.replies[current["context"]]})
        message = say(f"Vote stored: {verdict_words(verdict)}. A was **{left.label}**, B was **{right.label}**.",
                      f"투표를 저장했습니다: {verdict_words(verdict)}. A는 **{left.label}**, B는 **{right.label}**였습니다.")
        return message, {**current, "voted": True}

    start_button.click(on_start, inputs=[dataset, models, limit, seed, max_new_tokens], outputs=[picked, command],
                       api_name="evaluate")
    stop_button.click(on_stop, inputs=[picked], outputs=[status], api_name="stop_evaluation")
    pair_views = [context, real, reply_a, reply_b, vote_message, pair]
    picked.change(on_pick, inputs=[picked], outputs=[*views, seen, *pair_views, shown], show_progress="hidden")
    refresh.click(lambda: gr.update(choices=evaluation_choices(workspace)), outputs=[picked])
    timer.tick(on_tick, inputs=[picked, seen], outputs=[*views, seen], show_progress="hidden")
    next_pair.click(on_next, inputs=[picked], outputs=pair_views, api_name="evaluation_pair")
    for verdict, button in vote_buttons.items():
        button.click(lambda current, verdict=verdict: on_vote(verdict, current), inputs=[pair],
                     outputs=[vote_message, pair], api_name=f"evaluation_vote_{verdict}")

    def refreshed():
        choices = model_choices(workspace)
        return (gr.update(choices=workspace.dataset_names()), gr.update(choices=choices, info=_models_info(choices)),
                gr.update(choices=evaluation_choices(workspace)))

    def on_page_load():
        """A reload shows the evaluation under way, if one is, else the newest."""
        under_way = evaluate_jobs.running(workspace)
        choice = workspace.relative(under_way[0].path) if under_way else newest_evaluation(workspace)
        return gr.update(choices=evaluation_choices(workspace), value=choice)

    return {"refresh": refreshed, "refresh_outputs": [dataset, models, picked],
            "on_load": (on_page_load, [], [picked])}


# --- what the tab shows, from the evaluation's files ----------------------------------------------


def model_choices(workspace: Workspace, chattable: dict | None = None) -> list[tuple[str, str]]:
    """Everything the Chat tab chats with, and each run as a whole (all its checkpoints, for the curve)."""
    chattable = chat_models(workspace) if chattable is None else chattable
    choices = [(spec.label, model_id) for model_id, spec in chattable.items() if not model_id.startswith(UNREADABLE)]
    for entry in list_runs(workspace.runs):
        if entry.problem is None and entry.run.adapters():
            choices.append((say(f"{entry.run.name} · every checkpoint (transformers)",
                                f"{entry.run.name} · 모든 체크포인트 (transformers)"), f"run:{entry.run.name}"))
    return choices


def _models_info(choices: list) -> object:
    if choices:
        return T("exports, runs (every checkpoint), base models, GGUF files", "내보낸 모델, 실행(모든 체크포인트), 베이스 모델, GGUF 파일")
    return T("none yet: train a run (Train tab) or export one; its checkpoints and GGUF files appear here",
             "아직 없음: 학습 탭에서 학습하거나 내보내면 체크포인트와 GGUF 파일이 여기에 나타납니다")


def evaluation_choices(workspace: Workspace) -> list[str]:
    return [workspace.relative(entry.evaluation.path) for entry in evaluate_jobs.all_evaluations(workspace)]


def newest_evaluation(workspace: Workspace) -> str | None:
    choices = evaluation_choices(workspace)
    return choices[0] if choices else None


def evaluation_views(target: EvaluationDir | None) -> tuple:
    """status, results table, checkpoint plot, depth plot, style table, style chart, all replies."""
    empty = (pd.DataFrame(columns=RESULT_COLUMNS), _checkpoint_plot(pd.DataFrame()), _depth_plot(pd.DataFrame()),
             pd.DataFrame(), _style_plot(pd.DataFrame()), pd.DataFrame())
    if target is None:
        return say("No evaluation yet: choose a dataset and models, then Evaluate.",
                   "아직 평가가 없습니다. 데이터셋과 모델을 고른 뒤 '평가하기'를 누르세요."), *empty
    try:
        status, found = target.status(), target.results()
    except UnreadableFile as err:
        return _line(localized(err), "#c00"), *empty
    head = _status_html(target, status, found)
    if found is None or not found.models:
        return head, *empty
    head += "".join(f"<div class='best-checkpoint'>{html_escape(line)}</div>" for line in best_checkpoints(found))
    return (head, results_frame(found), _checkpoint_plot(checkpoint_frame(found)), _depth_plot(depth_frame(found)),
            style_frame(found), _style_plot(style_distance_frame(found)), replies_frame(found))


def results_frame(found: Evaluation) -> pd.DataFrame:
    rows = [[model.label, "" if model.step is None else model.step, model.bot_loss, model.perplexity, model.bot_tokens, model.style_distance,
             model.seconds] for model in found.models]
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def checkpoint_frame(found: Evaluation) -> pd.DataFrame:
    rows = [{"step": model.step, "bot loss": model.bot_loss, "run": model.run}
            for model in found.models if model.run and model.step is not None]
    return pd.DataFrame(rows, columns=["step", "bot loss", "run"]).drop_duplicates(["run", "step"], keep="last")


def best_checkpoints(found: Evaluation) -> list[str]:
    """For each run evaluated at several steps: its lowest held-out loss, and whether later steps rose
    above it (where overfitting began)."""
    lines = []
    for run in dict.fromkeys(model.run for model in found.models if model.run and model.step is not None):
        steps = sorted({model.step: model for model in found.models if model.run == run}.values(),
                       key=lambda model: model.step)
        if len(steps) < 2:
            continue
        best = min(steps, key=lambda model: model.bot_loss)
        later = [model.step for model in steps if model.step > best.step and model.bot_loss > best.bot_loss]
        rose = (say(f"; the loss rose after it (overfitting from step {later[0]})",
                    f"; 그 뒤로 손실이 올랐습니다 (스텝 {later[0]}부터 과적합)") if later else "")
        lines.append(say(f"Best checkpoint of {run}: step {best.step} ({best.label}, bot loss {best.bot_loss:.4f}){rose}.",
                         f"{run}의 가장 좋은 체크포인트: 스텝 {best.step} ({best.label}, 봇 손실 {best.bot_loss:.4f}){rose}."))
    return lines


def depth_frame(found: Evaluation) -> pd.DataFrame:
    rows = [{"depth": depth.depth, "loss": depth.loss, "model": model.label}
            for model in found.models for depth in model.loss_by_depth]
    return pd.DataFrame(rows, columns=["depth", "loss", "model"])


def style_frame(found: Evaluation) -> pd.DataFrame:
    real = say("real replies", "실제 답변")
    rows = [{"model": real, "mean characters": found.real_style.mean_chars,
             **{rate: getattr(found.real_style, rate) for rate in RATES}, "style distance": 0.0}]
    rows += [{"model": model.label, "mean characters": model.style.mean_chars,
              **{rate: getattr(model.style, rate) for rate in RATES}, "style distance": model.style_distance}
             for model in found.models]
    return pd.DataFrame(rows)


def style_distance_frame(found: Evaluation) -> pd.DataFrame:
    """Each model's one style distance from the real replies: what the style chart draws."""
    rows = [{"model": model.label, "style distance": model.style_distance} for model in found.models]
    return pd.DataFrame(rows, columns=["model", "style distance"])


def replies_frame(found: Evaluation) -> pd.DataFrame:
    rows = []
    for index, context_point in enumerate(found.contexts):
        last = context_point.history[-1]["content"] if context_point.history else ""
        rows.append({"#": index + 1, say("last message", "마지막 메시지"): last,
                     say("real reply", "실제 답"): context_point.real_reply,
                     **{model.label: model.replies[index] for model in found.models if index < len(model.replies)}})
    return pd.DataFrame(rows)


def _checkpoint_plot(frame: pd.DataFrame) -> gr.LinePlot:
    return gr.LinePlot(value=frame if not frame.empty else None, x="step", y="bot loss", color="run",
                       x_title=say("step", "스텝"), y_title=say("held-out bot loss", "검증 봇 손실"))


def _depth_plot(frame: pd.DataFrame) -> gr.LinePlot:
    return gr.LinePlot(value=frame if not frame.empty else None, x="depth", y="loss", color="model",
                       x_title=say("the bot's n-th answer", "봇의 n번째 답"), y_title=say("bot loss", "봇 손실"))


def _style_plot(frame: pd.DataFrame) -> gr.BarPlot:
    return gr.BarPlot(value=frame if not frame.empty else None, x="model", y="style distance", sort=None,
                      x_title=say("model", "모델"), y_title=say("style distance (0: like the real person)",
                                                               "말투 거리 (0: 실제 사람과 같음)"))


def _pair_views(choice: str | None, target: EvaluationDir | None) -> tuple:
    """A random held-out context and two different models' replies to it, in random order."""
    found = _results(target)
    if found is None or len(found.models) < 2 or not found.contexts:
        note = say("Blind pairs need an evaluation with at least two models.",
                   "블라인드 비교에는 모델이 둘 이상인 평가가 필요합니다.")
        return [], "", "", "", note, {}
    chooser = random.Random()
    context_index = chooser.randrange(len(found.contexts))
    left, right = chooser.sample(range(len(found.models)), 2)
    context_point = found.contexts[context_index]
    shown = [{"role": message["role"], "content": _speaker_line(message)} for message in context_point.history]
    state = {"evaluation": choice, "context": context_index, "left": left, "right": right, "voted": False}
    return (shown, context_point.real_reply, found.models[left].replies[context_index],
            found.models[right].replies[context_index], "", state)


def _speaker_line(message: dict) -> str:
    speaker = message.get("speaker")
    named = speaker and speaker != "user" and message["role"] == "user"  # group chats: user1, user2, …
    return f"{speaker}: {message['content']}" if named else message["content"]


def _results(target: EvaluationDir | None) -> Evaluation | None:
    if target is None:
        return None
    try:
        return target.results()
    except UnreadableFile as err:
        raise UserError(str(err), ko=err.ko) from None


def _stamp(target: EvaluationDir | None) -> float | None:
    return changed(target) if target is not None else None


def _status_html(target: EvaluationDir, status, found: Evaluation | None) -> str:
    if status is None:
        return _line(say(f"{target.name}: {len(found.models) if found else 0} models evaluated.",
                         f"{target.name}: 모델 {len(found.models) if found else 0}개 평가됨."))
    done = f"{len(found.models)}/{len(found.requested)}" if found else ""
    parts = [f"<b>{html_escape(target.name)}</b>", html_escape(status.evaluating or ""), status.phase, done]
    return job_progress_html("evaluation-progress", status, parts, STATES_KO)


def _line(text: str, color: str | None = None) -> str:
    style = f" style='color:{color}'" if color else ""
    return f"<div class='evaluation-progress'{style}>{html_escape(text)}</div>"
