"""The path through the app, above the tabs: prepare → train → export → chat, where the user is and
what comes next, and "Try it with the sample", which walks the whole path by itself (inference.quickstart)
and opens Compare with the base and the fine-tune."""
from __future__ import annotations

import gradio as gr

from core.runs import RunDir
from core.workspace import Workspace
from inference import quickstart
from tuning.config import Hardware
from ui.common import html_escape, user_errors
from ui.i18n import T, lang

STAGE_NAMES = {"prepare": ("Dataset", "데이터셋"), "train": ("Train", "학습"), "export": ("Export", "내보내기"),
               "chat": ("Chat", "대화")}
REFRESH_S = 2.0
STYLE = ("<style>.stage-path{display:flex;flex-wrap:wrap;gap:.4em 1.2em;margin:0 0 .3em}"
         ".stage-path span[data-state=now]{font-weight:700}.stage-path span[data-state=done]{color:#2a7}"
         ".stage-path span[data-state=done]::after{content:' ✓'}.stage-path span[data-state=next]{opacity:.55}"
         # on a phone the button wraps below the path instead of squeezing it into a narrow column
         "#start-panel{flex-wrap:wrap}#start-steps{flex:1 1 320px;min-width:min(320px,100%)}</style>")


def create_start_panel(workspace: Workspace, hardware: Hardware) -> dict:
    with gr.Row(equal_height=True, elem_id="start-panel"):
        steps = gr.HTML(steps_html(workspace), elem_id="start-steps")
        try_button = gr.Button(T("▶ Try it with the sample", "▶ 샘플로 해 보기"), variant="primary", scale=0,
                               min_width=200, elem_id="try-sample")
    timer = gr.Timer(REFRESH_S)
    opened = gr.State(False)  # Compare was opened for this quickstart: not again on every tick

    @user_errors
    def on_try():
        quickstart.start(workspace, hardware)
        return steps_html(workspace), False

    started = try_button.click(on_try, outputs=[steps, opened], api_name="try_sample")
    return {"steps": steps, "timer": timer, "opened": opened, "started": started}


def wire(panel: dict, workspace: Workspace, app_tabs: gr.Tabs, chat: dict) -> None:
    """Every tick moves the quickstart on; when the fine-tune is ready, Compare opens with the pair."""
    compare_a, compare_b = chat["models"][1], chat["models"][2]

    def on_tick(opened):
        current = quickstart.advance(workspace, lang())
        if current is None or current.stage != "chat" or opened:
            return steps_html(workspace, current), opened, gr.update(), gr.update(), gr.update(), gr.update()
        base, tuned = quickstart.pair(current)
        choices = chat["choices"]()
        return (steps_html(workspace, current), True, gr.update(selected="chat"), gr.update(selected="compare"),
                gr.update(choices=choices, value=base), gr.update(choices=choices, value=tuned))

    panel["timer"].tick(on_tick, inputs=[panel["opened"]],
                        outputs=[panel["steps"], panel["opened"], app_tabs, chat["tabs"], compare_a, compare_b],
                        show_progress="hidden")


def steps_html(workspace: Workspace, current=None) -> str:
    """The four stages, the one under way marked, with a line on what is happening or what to do next
    (`current`: the quickstart's state when the caller has just read it)."""
    korean = lang() == "ko"
    current = current or quickstart.state(workspace)
    reached = _reached(workspace, current)
    items = []
    for index, stage in enumerate(quickstart.STAGES):
        state = "done" if index < reached else "now" if index == reached else "next"
        items.append(f"<span data-state='{state}'>{index + 1}. {STAGE_NAMES[stage][korean]}</span>")
    line = html_escape(_next_line(workspace, current, korean))
    state = current.stage if current else "idle"
    return (f"{STYLE}<div class='start-steps' data-quickstart='{state}'><div class='stage-path'>{' → '.join(items)}</div>"
            f"<div class='stage-next'>{line}</div></div>")


def _reached(workspace: Workspace, current) -> int:
    if current is not None:
        return {"train": 1, "export": 2, "chat": 3, "failed": 1 if current.export is None else 2}[current.stage]
    if workspace.exports.is_dir() and any(workspace.exports.iterdir()):
        return 3
    if workspace.runs.is_dir() and any(workspace.runs.iterdir()):
        return 2
    return 1 if workspace.dataset_names() else 0


def _next_line(workspace: Workspace, current, korean: bool) -> str:
    if current is None:
        return ("처음이라면 '샘플로 해 보기'를 누르세요: 샘플로 데모 모델을 학습하고 내보낸 뒤, 베이스와 나란히 대화합니다. "
                "내 대화로 하려면 데이터셋 탭에서 파일을 올리세요." if korean else
                "New here? Press 'Try it with the sample': it trains the demo model on the sample, exports it and "
                "opens Compare beside the base. For your own chats, start in the Dataset tab.")
    if current.stage == "train":
        status = RunDir(workspace.runs / current.run).status()
        step = f"{status.step}/{status.max_steps or '?'}" if status else "…"
        note = (korean and current.note_ko) or current.note
        line = f"학습 중: {current.run}, 스텝 {step}" if korean else f"Training {current.run}: step {step}"
        return f"{line} · {note}" if note else line
    if current.stage == "export":
        return (f"q4_k_m으로 내보내는 중: {current.export}" if korean else
                f"Exporting {current.export} as q4_k_m")
    if current.stage == "chat":
        return ("준비됐습니다: 대화 탭의 비교에서 베이스와 파인튜닝 모델이 나란히 답합니다." if korean else
                "Ready: in the Chat tab's Compare, the base and the fine-tune answer side by side.")
    error = (korean and current.error_ko) or current.error
    return (f"멈췄습니다: {error}. 다시 '샘플로 해 보기'를 누르세요." if korean else
            f"Stopped: {error}. Press 'Try it with the sample' again.")
