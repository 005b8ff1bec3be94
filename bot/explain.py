"""Why a message goes where it goes: each step of the routing with its reason (`backoffice explain`).

It runs the same pieces the assistant runs (the input checks, `Router.route`, the documents' answer and the
policy skill's decision on it), read-only: nothing is stored, nobody is messaged, no HR request is opened."""

from __future__ import annotations

from dataclasses import dataclass

from bot.messages import Message
from bot.privacy import sensitive_topic
from bot.router import DOCUMENTS_FIRST, OUT_OF_SCOPE, POLICY, error_output, read_act_why
from bot.runtime import Runtime
from skills.policy.skill import ANSWERED, FOR_HR, FOR_IT, MENU_REPLY, ON_TOPIC, decide, documents_answer


@dataclass(frozen=True)
class Step:
    name: str
    outcome: str
    why: str


def explain(runtime: Runtime, text: str) -> list[Step]:
    """The steps a message from an employee with no conversation under way goes through, as the employee
    would see them (a reply the bot asked for, or one under a card, goes to that skill first: not shown)."""
    assistant = runtime.assistant
    router = assistant.router
    message = Message(user_id="U0EXPLAIN0", text=text, channel="web:U0EXPLAIN0", platform="web")
    steps: list[Step] = []
    problem = assistant.check_input(message)
    if problem is not None:
        return [Step("input", "refused", problem.text)]
    topic = sensitive_topic(text)
    if topic is not None:
        return [Step("sensitive", "sensitive skill", f"discloses a {topic} matter: never answered in a channel")]
    probabilities = router.probabilities([text])[0]
    ranked = sorted(zip(router.labels, probabilities, strict=True), key=lambda pair: -pair[1])
    shown = ", ".join(f"{label} {float(p):.2f}" for label, p in ranked[:3])
    steps.append(Step("classifier", ranked[0][0], f"{shown} (a skill needs {router.threshold:.2f})"))
    if error_output(text):
        steps.append(Step("error output", "it", "a pasted stack trace: something broke"))
    act, act_why = read_act_why(text)
    steps.append(Step("act", act, act_why))
    route = router.route(message)
    steps.append(
        Step(
            "route",
            route.skill + (f" (on {route.topic}'s subject)" if route.topic else ""),
            f"{route.reason}; out of scope with probability {route.off_topic:.2f}",
        )
    )
    if route.skill != POLICY:
        return steps
    answer = documents_answer(text, runtime.index, runtime.settings, ["everyone"])
    sources = "; ".join(f"{h.title or h.source} ({h.similarity:.2f})" for h in answer.hits[:3]) or "no documents"
    steps.append(
        Step(
            "documents",
            "answer" if answer.confident else "no answer",
            f"answerability {answer.score:.2f} (answers from {runtime.settings.answer_min_score:.2f}, on the "
            f"documents' subject from {ON_TOPIC:.2f}); top passages: {sources}",
        )
    )
    decision = decide(route, answer)
    outcome, why = {
        MENU_REPLY: (OUT_OF_SCOPE, "no skill fits and the documents don't answer it: the menu"),
        ANSWERED: ("answered", answer.text.splitlines()[0][:200] if answer.text else ""),
        FOR_IT: ("it", "a how-to the documents don't cover: IT is offered"),
        FOR_HR: ("hr", "the documents don't answer it: it is sent to HR"),
    }[decision]
    if route.reason == DOCUMENTS_FIRST and decision != MENU_REPLY:
        why += " (looked up before the menu)"
    steps.append(Step("reply", outcome, why))
    return steps
